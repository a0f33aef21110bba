"""The child process of test_kill_resume: segments a slide (imports no pytest, so a fork
server can preload it and start children in milliseconds)."""

from __future__ import annotations

from pathlib import Path

from napari_histoseg.inference.engine import SegmentParams, segment
from napari_histoseg.inference.plan import GridParams, ModelInfo, plan_run
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.workspace import Workspace

from tests.segmentation_models import TileMeanModel


def segment_child(slide_path: Path, out: Path) -> None:
    """Segment ``slide_path`` into ``out`` with small tiles and frequent publishing."""
    import torch

    torch.set_num_threads(1)
    slide = open_slide(slide_path)
    info = ModelInfo("tile-mean", "", ("normal", "tumour"), ("#000000", "#ff0000"))
    plan = plan_run(slide, Workspace.open(slide_path, out), GridParams(tile_size=64, halo=16),
                    info)
    for _ in segment(slide, TileMeanModel(), plan,
                     SegmentParams(batch_size=4, device="cpu", publish_tiles=12)):
        pass
