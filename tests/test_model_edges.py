"""The fusion network's own CK5/6 edge map: basal rings of in-situ ducts light up, invasive nests do not."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_histoseg.inference.model_edges import MODEL_EDGES_NAME, model_edge_pyramid
from napari_histoseg.io.edge_store import EDGES_NAME, EdgeStoreError, open_edges
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.io.synthetic import regions as R
from napari_histoseg.io.synthetic.layout import make_layout
from napari_histoseg.io.synthetic.render import SectionRenderer
from napari_histoseg.models.catalog import FUSION_CHECKPOINT
from napari_histoseg.registered import RegisteredSlide
from napari_histoseg.registration import Registration


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A 1024² pair at 1 µm/px with in-situ ducts and invasive nests (seed 3, not a training seed)."""
    return generate_pair(tmp_path_factory.mktemp("pair"), SynthConfig(size=(1024, 1024), mpp=1.0, seed=3))


@pytest.fixture(scope="module")
def bundled():
    from napari_histoseg.models.registry import load_checkpoint

    return load_checkpoint(FUSION_CHECKPOINT, device="cpu")


@pytest.fixture(scope="module")
def pyramid(pair, bundled, tmp_path_factory):
    view = RegisteredSlide(open_slide(pair.he_path), open_slide(pair.ck56_path),
                           Registration(pair.affine, 1.0, 0.0))
    root = tmp_path_factory.mktemp("ws")
    steps = model_edge_pyramid(view, bundled.model, bundled.config.normalisation,
                               bundled.config.input_mpp, root, device="cpu", model_name="bundled")
    next(steps)
    steps.close()                                    # stopped half-way: nothing published or left
    assert list(root.iterdir()) == []
    progress = list(model_edge_pyramid(view, bundled.model, bundled.config.normalisation,
                                       bundled.config.input_mpp, root, device="cpu", model_name="bundled"))
    assert progress[-1] == 1.0
    return open_edges(root / MODEL_EDGES_NAME)


def test_model_edge_pyramid_is_whole_beside_the_classical_one(pyramid):
    assert [level.shape for level in pyramid.levels] == [(512, 512), (256, 256)]
    assert pyramid.meta["method"] == "fusion-edge-branch" and pyramid.meta["model"] == "bundled"
    assert pyramid.scale == (2.0, 2.0) and pyramid.translate == (0.5, 0.5)   # on the H&E, in µm
    assert not [p for p in pyramid.path.parent.iterdir() if "building" in p.name]
    with pytest.raises(EdgeStoreError, match="no CK5/6 edge map"):
        open_edges(pyramid.path.parent / EDGES_NAME)          # the classical map is another file


def test_model_edges_light_up_rings_not_invasive_nests(pair, pyramid):
    edges = pyramid.levels[0][:].astype(float)
    layout = make_layout(pair.config)
    ys, xs = SectionRenderer(layout, pair.config, "he").grid_um(1, (0, 0), (512, 512))
    codes, _ = R.region_grid(layout, ys, xs)
    ring = ndimage.binary_dilation(codes == R.BASAL_CIS, iterations=2)   # the basal layer ± 4 µm
    invasive = codes == R.INVASIVE
    assert ring.sum() > 1000 and invasive.sum() > 1000
    # The bundled tiny model's edge branch separates them only weakly (measured: 86 against 76,
    # 1.13x; the classical DAB edges reach >= 5x, tests/test_edges.py); an untrained edge head
    # gives no difference (about 0.97x), which this fails.
    assert edges[ring].mean() >= 1.1 * edges[invasive].mean(), (edges[ring].mean(), edges[invasive].mean())
    assert edges[ring].mean() > 60


def test_no_model_edges_without_a_pair_or_an_edge_branch(pair, bundled):
    from types import SimpleNamespace

    from napari_histoseg.inference.model_edges import prepared_model_edges
    from napari_histoseg.models.registry import create_model

    he = open_slide(pair.he_path)
    fusion = SimpleNamespace(model=bundled.model, input_mpp=2.0, normalisation=None, name="f")
    alone = SimpleNamespace(slide=he, model=fusion, workspace=None, params=None)
    assert prepared_model_edges(alone) is None                       # the H&E alone: no CK5/6
    hinet = SimpleNamespace(model=create_model("hinet", size="tiny"), input_mpp=2.0)
    paired = SimpleNamespace(slide=SimpleNamespace(registered=object()), model=hinet)
    assert prepared_model_edges(paired) is None                      # HI-Net has no edge branch
