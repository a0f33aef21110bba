"""Slide files, synthetic slides and the per-slide workspace."""
