"""One explanation run: segmentation (resumed), Grad-CAM heatmap, key regions, review queue.

The CLI and the Explain dock both go through here. The run is a generator:
it yields a :class:`Phase` when each stage starts, then the engine's own
events (``Progress``, ``TileResult``, ``BatchSizeReduced``), and returns an
:class:`ExplainSummary`. Both tiled stages run through the inference engine
(halo, blending, cancel between batches, resume); tiles already done in the
workspace are not computed again. The key regions and the queue are saved to
the workspace's ``explain.json``.

>>> prepared = prepare_explain(ExplainRequest(SegmentRequest("case.svs", "hinet.safetensors")))  # doctest: +SKIP
>>> for event in run_explain(prepared): ...                                                    # doctest: +SKIP
"""

from __future__ import annotations

import sys
import threading
from dataclasses import asdict, dataclass, replace

import numpy as np

from napari_histoseg.explain.gradcam import GradCam, default_layer
from napari_histoseg.explain.heatmap_predictor import GradCamPredictor
from napari_histoseg.explain.heatmap_store import HeatmapSettings, heatmap_spec, heatmap_store_for
from napari_histoseg.explain.key_regions import KeyRegion
from napari_histoseg.explain.region_files import save_explanation
from napari_histoseg.explain.slide_regions import slide_key_regions
from napari_histoseg.explain.uncertainty import ReviewItem, review_queue
from napari_histoseg.geometry import Box
from napari_histoseg.inference.engine import segment
from napari_histoseg.inference.events import RunSummary
from napari_histoseg.inference.plan import RunPlan
from napari_histoseg.inference.session import (PreparedRun, ResolvedModel, SegmentRequest,
                                               prepare_run, resolve_model, restrict_to_box,
                                               segment_predictor)
from napari_histoseg.inference.model_choice import default_model
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.workspace import Workspace, WorkspaceError


@dataclass(frozen=True)
class ExplainRequest:
    """What to explain. Tile size, halo and µm/px left as None in ``segment`` are those
    of the workspace's results (see :func:`with_results_grid`). ``target_class`` is a class name or index (default: the last class,
    tumour for HI-Net, invasive carcinoma for the fusion network); ``layer`` a module path
    (default: the architecture's); ``box`` ((y, x), (h, w), level-0 px) limits the tiles
    computed to a region (the view); ``window`` is the key-region side at the analysis
    resolution."""

    segment: SegmentRequest
    target_class: str | int | None = None
    layer: str | None = None
    region: str = "predicted"
    box: Box | None = None
    window: int = 128
    max_regions: int = 10
    queue_length: int = 20


@dataclass(frozen=True)
class Phase:
    """A stage starts: "segment", "heatmap" or "regions", with its tiles to do."""

    name: str
    total: int


@dataclass(frozen=True)
class PreparedExplain:
    run: PreparedRun
    heatmap_plan: RunPlan
    settings: HeatmapSettings
    request: ExplainRequest


@dataclass(frozen=True)
class ExplainSummary:
    segment: RunSummary
    heatmap: RunSummary | None
    key_regions: list[KeyRegion]
    queue: list[ReviewItem]
    cancelled: bool


def target_index(class_names: tuple[str, ...], target: str | int | None) -> int:
    """The index of ``target`` (a name or an index) among ``class_names``; the last by default."""
    if target is None:
        return len(class_names) - 1
    if isinstance(target, int) or str(target).isdigit():
        index = int(target)
        if not 0 <= index < len(class_names):
            raise ValueError(f"class {index} does not exist; the model has {len(class_names)} "
                             f"classes: {', '.join(class_names)}")
        return index
    if target not in class_names:
        raise ValueError(f"unknown class {target!r}; the model's classes are "
                         f"{', '.join(class_names)}")
    return class_names.index(target)


def with_results_grid(request: SegmentRequest, model_tile_size: int | None) -> SegmentRequest:
    """``request`` with the tile size, halo and µm/px it leaves open (None) taken from the
    results already in its workspace, so the heatmap lies on their grid and the
    segmentation resumes. Without results, an open halo is 64 px, or a quarter of the
    tile (``model_tile_size``, else 512) when that is less."""
    store = None
    if not request.restart:
        try:
            store = Workspace.open(request.slide_path, request.out_dir).results()
        except WorkspaceError:
            store = None
    if store is None:
        tile = request.tile_size or model_tile_size or 512
        return replace(request, halo=min(64, tile // 4) if request.halo is None else request.halo)
    grid = store.spec.grid
    same_place = request.mpp is None and request.level is None
    return replace(request, tile_size=request.tile_size or grid.tile_size,
                   halo=grid.halo if request.halo is None else request.halo,
                   mpp=float(np.mean(store.spec.mpp)) if same_place else request.mpp)


def prepare_explain(request: ExplainRequest, resolved: ResolvedModel | None = None,
                    warn=lambda message: print(message, file=sys.stderr)) -> PreparedExplain:
    """Plan the segmentation (to resume) and the heatmap on the same grid."""
    if resolved is None:
        spec = request.segment.model or str(default_model(open_slide(request.segment.slide_path)))
        resolved = resolve_model(spec, warn)
    prepared = prepare_run(with_results_grid(request.segment, resolved.tile_size), resolved, warn)
    model = prepared.model
    target = target_index(model.class_names, request.target_class)
    settings = HeatmapSettings(layer=request.layer or default_layer(model.model),
                               target_class=target, class_name=model.class_names[target],
                               region=request.region)
    GradCam(model.model, settings.layer, target, request.region)  # names a bad layer now
    store = heatmap_store_for(prepared.workspace, heatmap_spec(prepared.plan.store.spec, settings),
                              restart=request.segment.restart)
    plan = prepared.plan
    if request.box is not None:
        plan = restrict_to_box(plan, request.box)
        prepared = replace(prepared, plan=plan)
    return PreparedExplain(prepared, replace(plan, store=store), settings, request)


def run_explain(prepared: PreparedExplain, viewport=None, cancel: threading.Event | None = None):
    """Segment (what is not done), compute the heatmap, then rank regions and tiles."""
    run, params = prepared.run, prepared.run.params
    log = run.workspace.run_log
    yield Phase("segment", len(run.plan.tiles))
    seg = yield from segment(run.slide, run.model.model, run.plan, params, viewport=viewport,
                             cancel=cancel, run_log=log, predictor=segment_predictor(run))
    if seg.cancelled:
        return ExplainSummary(seg, None, [], [], cancelled=True)
    settings = prepared.settings
    predictor = GradCamPredictor(run.model.model, settings.layer, settings.target_class,
                                 settings.region, params.device, params.normalisation,
                                 run.plan.store.spec.grid.tile_size, params.batch_size)
    yield Phase("heatmap", len(prepared.heatmap_plan.tiles))
    heat = yield from segment(run.slide, run.model.model, prepared.heatmap_plan, params,
                              viewport=viewport, cancel=cancel, run_log=log, predictor=predictor)
    yield Phase("regions", 0)
    request = prepared.request
    regions = slide_key_regions(prepared.heatmap_plan.store, run.plan.store,
                                settings.target_class, window=request.window,
                                max_regions=request.max_regions)
    queue = review_queue(run.plan.store, prepared.heatmap_plan.store, settings.target_class,
                         length=request.queue_length)
    save_explanation(run.workspace.root, regions, queue,
                     {**asdict(settings), "window": request.window, "model": run.model.name})
    return ExplainSummary(seg, heat, regions, queue, cancelled=heat.cancelled)
