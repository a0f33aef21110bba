"""The npe2 reader: slides become one multiscale RGB layer in µm; anything else is None."""

from __future__ import annotations

import pytest

from napari_histoseg._reader import get_reader


def test_reader_returns_multiscale_rgb_layer_in_microns(pyramid_tiff):
    reader = get_reader(str(pyramid_tiff))
    assert callable(reader)
    [(data, kwargs, layer_type)] = reader(str(pyramid_tiff))
    assert layer_type == "image"
    assert [level.shape for level in data] == [(1536, 2048, 3), (768, 1024, 3), (384, 512, 3)]
    assert kwargs["rgb"] and kwargs["multiscale"]
    assert kwargs["scale"] == pytest.approx((0.5, 0.5))
    assert kwargs["metadata"]["slide_path"] == str(pyramid_tiff)
    assert kwargs["metadata"]["mpp"] == pytest.approx((0.5, 0.5))


@pytest.mark.parametrize("name", ["notes.txt", "image.png", "folder"])
def test_reader_declines_other_files(tmp_path, name):
    assert get_reader(str(tmp_path / name)) is None


def test_reader_declines_broken_slide_without_raising(tmp_path):
    broken = tmp_path / "broken.svs"
    broken.write_bytes(b"II*\x00garbage")
    assert get_reader(str(broken)) is None


def test_reader_declines_lists():
    assert get_reader(["a.svs", "b.svs"]) is None
