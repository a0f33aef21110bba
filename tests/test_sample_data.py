"""napari sample data: cached once, layers in µm, CK5/6 laid onto the H&E by its affine."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg._sample_data import he_with_truth, paired_sample, sample_pair
from napari_histoseg.io.synthetic import SynthConfig

SMALL = SynthConfig(size=(768, 768), seed=4, tile_size=256)


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return sample_pair(SMALL, folder=tmp_path_factory.mktemp("cache"))


def test_sample_is_generated_once_then_reused(pair):
    before = pair.he_path.stat().st_mtime_ns
    again = sample_pair(SMALL, folder=pair.he_path.parent.parent)
    assert again.he_path == pair.he_path and again.he_path.stat().st_mtime_ns == before
    assert [p.name for p in pair.he_path.parent.parent.iterdir()] == [pair.he_path.parent.name]


def test_paired_sample_layers_are_in_um_with_metadata(pair):
    (he_data, he_kwargs, he_type), (ck_data, ck_kwargs, _) = paired_sample(pair)
    assert he_type == "image" and he_kwargs["multiscale"] and len(he_data) == len(SMALL.level_shapes())
    assert he_kwargs["scale"] == (0.5, 0.5)
    assert he_kwargs["metadata"] == {"slide_path": str(pair.he_path), "mpp": (0.5, 0.5)}
    assert ck_kwargs["metadata"]["slide_path"] == str(pair.ck56_path)


def test_ck56_affine_puts_its_pixels_on_the_matching_he_world_point(pair):
    from napari.layers import Image

    _, ck_kwargs, _ = paired_sample(pair)[1]
    layer = Image(np.zeros((768, 768), dtype=np.uint8), scale=ck_kwargs["scale"],
                  affine=ck_kwargs["affine"])
    he_point = np.array([300.0, 420.0])
    ck_point = (pair.affine @ np.append(he_point, 1.0))[:2]
    np.testing.assert_allclose(layer.data_to_world(ck_point), he_point * 0.5, atol=1e-6)


def test_he_with_truth_gives_multiscale_labels_on_the_same_grid(pair):
    (he_data, he_kwargs, _), (labels, label_kwargs, label_type) = he_with_truth(pair)
    assert label_type == "labels" and label_kwargs["scale"] == he_kwargs["scale"]
    assert [level.shape for level in labels] == [level.shape[:2] for level in he_data]
    assert set(np.unique(labels[-1].compute())) <= {0, 1, 2}
