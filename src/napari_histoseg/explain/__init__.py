"""Explanations of a segmentation: where the model looked and where to look first.

``key_regions`` ranks the peak windows of a heatmap as level-0 boxes (numpy only).
Modules that need torch import it inside their functions, so importing this
package stays cheap.
"""
