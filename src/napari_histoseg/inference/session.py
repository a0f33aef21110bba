"""One segmentation run from a request: resolve the model, plan, and start the engine.

The CLI and the Segment dock both go through here, so a run means the same
thing from either.

>>> request = SegmentRequest(slide_path="case.svs", model="weights/hinet.safetensors")  # doctest: +SKIP
>>> prepared = prepare_run(request)                                                     # doctest: +SKIP
>>> for event in start_run(prepared):                                                   # doctest: +SKIP
...     ...
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from napari_histoseg.inference.engine import SegmentParams, segment
from napari_histoseg.inference.model_choice import applicability_warnings, default_model, is_synthetic
from napari_histoseg.inference.plan import GridParams, ModelInfo, RunPlan, plan_run
from napari_histoseg.geometry import Box, tiles_in_box
from napari_histoseg.io.slide import Slide, open_slide
from napari_histoseg.io.workspace import Workspace
from napari_histoseg.models.catalog import FUSION_CHECKPOINT
from napari_histoseg.stain import StainError, StainStats, colour_lut

DEFAULT_COLORS = ("#000000", "#ff0000", "#00c000", "#0060ff", "#ffa000", "#c000c0")


@dataclass(frozen=True)
class SegmentRequest:
    """What the user asked for. ``model`` is a checkpoint path or a registered name; None
    picks the shipped model for the slide (``model_choice.default_model``).

    ``level`` or ``mpp`` choose the analysis resolution (default: the checkpoint's
    training µm/px); ``slide_mpp`` stands in for slides whose file states none.
    ``flips`` (1, 2 or 4 views averaged per tile) defaults to the model card's.
    """

    slide_path: Path
    model: str | None = None
    level: int | None = None
    mpp: float | None = None
    slide_mpp: float | tuple[float, float] | None = None
    tile_size: int | None = None
    halo: int = 64
    batch_size: int = 8
    device: str = "auto"
    out_dir: Path | None = None
    restart: bool = False
    publish_s: float = 2.0
    ck56: bool = False
    flips: int | None = None


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready for the engine, with what the results record about it."""

    model: object
    name: str
    sha256: str
    class_names: tuple[str, ...]
    class_colors: tuple[str, ...]
    normalisation: dict | None
    input_mpp: float | None
    tile_size: int | None
    stain: dict | None = None
    card: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedRun:
    """Everything the engine needs, decided before the first tile is read."""

    slide: Slide
    model: ResolvedModel
    workspace: Workspace
    plan: RunPlan
    params: SegmentParams
    detail: object = None        # inference.detail_crops.DetailCrops when the model uses them


def resolve_model(spec: str, warn=print) -> ResolvedModel:
    """A checkpoint file, or a registered model name with random weights (warned loudly)."""
    from napari_histoseg.models import registry

    path = Path(spec)
    if path.suffix in (".safetensors", ".json") or path.exists():
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such checkpoint file; pass a .safetensors "
                                    "checkpoint or a model name "
                                    f"({', '.join(registry.available_models())})")
        loaded = registry.load_checkpoint(path.with_suffix(".safetensors"), device="cpu")
        config = loaded.config
        return ResolvedModel(loaded.model, path.name, loaded.sha256, tuple(config.class_names),
                             tuple(config.class_colors), config.normalisation,
                             config.input_mpp, config.tile_size, config.stain, config.card)
    model = registry.create_model(spec)
    warn(f"WARNING: model {spec!r} has RANDOM, UNTRAINED weights; the mask is meaningless. "
         "Choose a trained checkpoint (.safetensors).")
    names = _class_names(model)
    return ResolvedModel(model, spec, "", names, DEFAULT_COLORS[:len(names)], None, None, None)


def _class_names(model) -> tuple[str, ...]:
    """Name the classes of an unconfigured model by running it once on a small input."""
    import torch

    with torch.inference_mode():
        n_classes = model.eval().predict_logits(torch.zeros(1, 3, 64, 64)).shape[1]
    return ("background",) + tuple(f"class {i}" for i in range(1, n_classes))


def prepare_run(request: SegmentRequest, resolved: ResolvedModel | None = None,
                warn=lambda message: print(message, file=sys.stderr)) -> PreparedRun:
    """Open the slide, resolve the model (unless given), detect tissue and plan the tiles.

    Raises SlideError, CheckpointError, WorkspaceError or ValueError with a
    message naming the file at fault.
    """
    slide = open_slide(request.slide_path)
    if resolved is None:
        spec = request.model or str(FUSION_CHECKPOINT if request.ck56 else default_model(slide))
        resolved = resolve_model(spec, warn)
        if request.model is None:
            warn(f"model: {resolved.name} (the shipped model for "
                 f"{'synthetic' if is_synthetic(slide) else 'real'} slides)")
    mpp = request.mpp if request.level is not None or request.mpp else resolved.input_mpp
    grid = GridParams(level=request.level, mpp=mpp,
                      tile_size=request.tile_size or resolved.tile_size or 512,
                      halo=request.halo, slide_mpp=request.slide_mpp)
    workspace = Workspace.open(request.slide_path, request.out_dir)
    if request.ck56:
        slide = paired_input(slide, workspace.root, resolved, warn)
    info = ModelInfo(resolved.name, resolved.sha256, resolved.class_names, resolved.class_colors)
    plan = plan_run(slide, workspace, grid, info, restart=request.restart)
    if plan.notice:
        warn(f"WARNING: {plan.notice}")
    slide_stain = fit_slide_stain(slide)
    lut = colour_lut(slide_stain, StainStats.from_dict(resolved.stain)) if (
        resolved.stain and slide_stain) else None
    slide_mpp = float(np.mean(slide.mpp)) if slide.mpp else request.slide_mpp
    for message in applicability_warnings(slide_mpp, resolved.input_mpp, slide_stain, resolved.card):
        warn(f"WARNING: {message}")
    detail = detail_crops_for(slide, resolved, plan, lut)
    if detail is not None and detail.notice:
        warn(f"WARNING: {detail.notice}")
    params = SegmentParams(batch_size=request.batch_size, device=request.device,
                           normalisation=resolved.normalisation, colour_lut=lut,
                           publish_s=request.publish_s,
                           flips=run_flips(request.flips, resolved, detail is not None, warn))
    return PreparedRun(slide, resolved, workspace, plan, params, detail)


def run_flips(asked: int | None, resolved: ResolvedModel, detail: bool, warn) -> int:
    """Flipped views per tile: ``asked``, else the model card's; 1 for a model reading
    detail crops (its crops are not flipped with the tile), with a warning if more were asked."""
    from napari_histoseg.inference.flip_views import views_of

    flips = views_of(resolved.card, asked)
    if detail and flips > 1:
        if asked is not None:
            warn(f"WARNING: {resolved.name} reads 40x detail crops; it runs without flipped views")
        return 1
    if flips > 1:
        warn(f"{resolved.name}: each tile is averaged over {flips} flipped views "
             f"({flips}x the forward passes; 1 view is faster and less accurate)")
    return flips


def detail_crops_for(slide, resolved: ResolvedModel, plan: RunPlan, lut):
    """``DetailCrops`` for a checkpoint trained with 40x detail crops (its card says so), else None."""
    from napari_histoseg.inference.detail_crops import DetailCrops, DetailSpec

    spec = DetailSpec.from_card(resolved.card)
    return None if spec is None else DetailCrops(slide, plan.store.spec.grid, spec, lut)


def paired_input(slide, workspace_root, resolved: ResolvedModel, warn):
    """``slide`` with the CK5/6 paired in its workspace read through the registration
    (``registered.PairedSlide``); PairingError naming the slide when none is paired."""
    from napari_histoseg.pairing import PairingError, load_pairing
    from napari_histoseg.registered import PairedSlide, RegisteredSlide

    pairing = load_pairing(workspace_root)
    if pairing is None:
        raise PairingError(slide.path, "no CK5/6 slide is paired with it; run `histoseg pair "
                                       "HE CK56` or pair one in the Slide dock first")
    if "EdgeFusionNet" not in type(resolved.model).__name__:
        raise ValueError(f"{resolved.name}: only the edge-guided fusion network reads CK5/6; "
                         f"choose {FUSION_CHECKPOINT.name}")
    if not pairing.registration.ok:
        warn(f"WARNING: {pairing.ck56_path.name}: {pairing.registration.summary()}")
    return PairedSlide(slide, RegisteredSlide(slide, open_slide(pairing.ck56_path), pairing.registration))


def fit_slide_stain(slide) -> StainStats | None:
    """The slide's stain statistics, fitted once on its thumbnail's tissue; None if too little."""
    from napari_histoseg.tissue import detect_tissue

    thumbnail = slide.thumbnail()
    try:
        return StainStats.fit(thumbnail, detect_tissue(thumbnail))
    except StainError:
        return None


def restrict_to_box(plan: RunPlan, box: Box) -> RunPlan:
    """The plan with only the tiles whose core meets ``box`` ((y, x), (h, w), level-0 px)."""
    visible = tiles_in_box(plan.store.spec.grid, box)
    return replace(plan, tiles=np.intersect1d(plan.tiles, visible))


def start_run(prepared: PreparedRun, viewport=None, cancel: threading.Event | None = None):
    """The engine's generator for ``prepared``, logging to the workspace's run log."""
    return segment(prepared.slide, prepared.model.model, prepared.plan, prepared.params,
                   viewport=viewport, cancel=cancel, run_log=prepared.workspace.run_log,
                   predictor=segment_predictor(prepared))


def segment_predictor(prepared: PreparedRun):
    """The engine's predictor for ``prepared``: a ``DetailPredictor`` for a model trained with
    detail crops (the crops are recorded in the run log), else None (the engine's default)."""
    if prepared.detail is None:
        return None
    from napari_histoseg.inference.detail_predictor import DetailPredictor

    crops, params = prepared.detail, prepared.params
    prepared.workspace.run_log.append({
        "event": "detail-crops", "window": crops.window, "zoom": crops.zoom,
        "level": crops.level, "read_size": crops.read_size, "notice": crops.notice})
    return DetailPredictor(prepared.model.model, crops, params.device, params.normalisation,
                           prepared.plan.store.spec.grid.tile_size, params.batch_size)
