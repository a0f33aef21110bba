"""Explanations of a segmentation: where the model looked and where to look first.

- ``key_regions``: the peak windows of a heatmap as ranked level-0 boxes (numpy only);
- ``gradcam``: Seg-Grad-CAM of a model at a hooked layer (torch);
- ``heatmap_predictor``: Grad-CAM as the tiled engine's predictor;
- ``heatmap_store``: the heatmap's OME-Zarr pyramid in the workspace;
- ``slide_regions``: key regions of a whole slide from its pyramids;
- ``uncertainty``: the review queue (entropy, heatmap-mask disagreement);
- ``region_files``: ``explain.json``, CSV and GeoJSON;
- ``run``: one explanation run (segment, heatmap, regions, queue); ``command``: its CLI.

Modules that need torch import it themselves, so importing this package stays cheap.
"""
