"""Segmentation networks from the HI-Net and edge-guided fusion papers, and their checkpoints."""
