"""napari-histoseg: a napari review station for breast-cancer whole-slide images.

Heavy modules (torch, napari's Qt parts) are imported only where used, so that
discovering the plugin stays cheap.
"""

__version__ = "0.1.0"
