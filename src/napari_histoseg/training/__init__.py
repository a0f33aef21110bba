"""Datasets, losses, metrics and the training loop."""
