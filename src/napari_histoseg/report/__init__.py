"""The slide report: tumour burden, lesions, CAMELYON17 category, provenance and export.

Qt-free; one concept per module:

- :mod:`.diameters`   the longest (maximum Feret) diameter of a pixel region (scipy.spatial)
- :mod:`.lesions`     connected lesions over a mask read block by block (scipy.ndimage)
- :mod:`.areas`       area per class, tissue area and tumour fraction (numpy)
- :mod:`.category`    the CAMELYON17 category of the largest lesion
- :mod:`.provenance`  model, run times and corrections from the workspace
- :mod:`.slide_report` one pass over a workspace's mask that builds a :class:`SlideReport`
- :mod:`.summary`     the numbers as labelled text, for the CLI, the dock and the page
- :mod:`.tables`      CSV of the summary, the lesions and a batch of slides
- :mod:`.figure`      the thumbnail and overlay figure (matplotlib, Agg)
- :mod:`.html_page`   the one-page HTML report
- :mod:`.command`     ``histoseg report``

Nothing here is imported by the package's ``__init__``; importing this package is cheap.
"""
