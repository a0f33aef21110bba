"""CK5/6 edge maps light up the basal rings of in-situ ducts, not invasive nests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_histoseg.edges import dab_edges, edge_pyramid, edge_tile
from napari_histoseg.io.edge_store import EDGES_NAME, EdgeStoreError, open_edges
from napari_histoseg.io.slide import open_slide
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.io.synthetic import regions as R
from napari_histoseg.io.synthetic.layout import make_layout
from napari_histoseg.io.synthetic.render import SectionRenderer
from napari_histoseg.registered import RegisteredSlide
from napari_histoseg.registration import Registration
from napari_histoseg.stain import stain_densities


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A 2048² pair at 1 µm/px with in-situ ducts and invasive nests (seed 3)."""
    return generate_pair(tmp_path_factory.mktemp("pair"), SynthConfig(size=(2048, 2048), mpp=1.0, seed=3))


def registered_view(pair) -> RegisteredSlide:
    return RegisteredSlide(open_slide(pair.he_path), open_slide(pair.ck56_path),
                           Registration(pair.affine, 1.0, 0.0))


def test_rings_light_up_and_invasive_nests_do_not(pair):
    edges = edge_tile(registered_view(pair), 0, (0, 0), (2048, 2048)).astype(float)
    layout = make_layout(pair.config)
    codes, _ = R.region_grid(layout, *SectionRenderer(layout, pair.config, "he").grid_um(0, (0, 0), (2048, 2048)))
    ring = ndimage.binary_dilation(codes == R.BASAL_CIS, iterations=3)   # the basal layer ± 3 µm
    invasive = codes == R.INVASIVE
    assert ring.sum() > 1000 and invasive.sum() > 1000
    assert edges[ring].mean() >= 5 * edges[invasive].mean(), (edges[ring].mean(), edges[invasive].mean())
    assert np.median(edges[ring]) > 20


def test_dab_edges_fall_on_dab_positive_boundaries():
    from skimage import data
    from skimage.filters import threshold_otsu

    rgb = data.immunohistochemistry()
    edges = dab_edges(rgb, mpp=0.5)
    dab = ndimage.gaussian_filter(stain_densities(rgb, (2,))[..., 0], 4)
    positive = ndimage.binary_fill_holes(dab > threshold_otsu(dab))
    boundary = ndimage.binary_dilation(positive, iterations=4) & ~ndimage.binary_erosion(positive, iterations=4)
    negative = ~ndimage.binary_dilation(positive, iterations=4)
    assert edges[boundary].mean() >= 5 * edges[negative].mean()
    strong = edges > 0.5
    assert strong.sum() > 1000 and (strong & negative).sum() <= 0.02 * strong.sum()


def test_edge_pyramid_is_written_whole_into_the_workspace(pair, tmp_path):
    view = registered_view(pair)
    steps = edge_pyramid(view, tmp_path, edge_mpp=2.0)
    next(steps)
    steps.close()                                    # stopped half-way: nothing published or left
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(EdgeStoreError, match="no CK5/6 edge map"):
        open_edges(tmp_path / EDGES_NAME)
    progress = list(edge_pyramid(view, tmp_path, edge_mpp=2.0))
    assert progress[-1] == 1.0
    pyramid = open_edges(tmp_path / EDGES_NAME)
    assert [level.shape for level in pyramid.levels] == [(1024, 1024), (512, 512), (256, 256)]
    assert pyramid.scale == (2.0, 2.0) and pyramid.translate == (0.5, 0.5)
    level0 = pyramid.levels[0][:]
    np.testing.assert_array_equal(level0[:256, :256], edge_tile(view, 1, (0, 0), (256, 256)))
    mean = level0.reshape(512, 2, 512, 2).astype(int).sum((1, 3))
    np.testing.assert_array_equal(pyramid.levels[1][:], (mean + 2) // 4)
    assert not [p for p in tmp_path.iterdir() if "building" in p.name]
