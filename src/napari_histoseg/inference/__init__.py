"""Tiled whole-slide inference."""
