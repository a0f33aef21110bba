"""Batch segmentation of many slides on dask.distributed (the optional ``distributed`` extra).

Each slide is one dask task that runs the single-process engine
(:mod:`napari_histoseg.inference.session`) on a worker, so a tile is computed
by the same code either way. ``manifest`` lists the slides, ``worker`` is the
task and the per-worker model cache, ``runner`` submits and follows a batch,
``summary`` writes the CSV, ``command`` is ``histoseg segment SLIDE... |
--manifest``. Only ``worker`` and ``runner`` import distributed.
"""
