"""Chunk-cached display levels: reads served from memory, changed chunks re-read on demand."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg.io.display_cache import CachedLevel


class CountingSource:
    """A (h, w) array that counts the reads made of it."""

    def __init__(self, shape=(100, 130)):
        self.pixels = np.arange(shape[0] * shape[1], dtype=np.int32).reshape(shape)
        self.reads = 0

    def read(self, rows: slice, cols: slice) -> np.ndarray:
        self.reads += 1
        return self.pixels[rows, cols].copy()


@pytest.fixture
def source():
    return CountingSource()


@pytest.fixture
def level(source):
    return CachedLevel(source.read, source.pixels.shape, np.int32, chunk=(32, 32))


def test_reads_match_the_source_for_every_kind_of_index(level, source):
    for key in [(slice(5, 70), slice(40, 129)), (slice(None), slice(None)), Ellipsis,
                (3, slice(10, 20)), (slice(0, 99, 7), 128), (-1, -1), (slice(90, 200),)]:
        np.testing.assert_array_equal(level[key], source.pixels[key])
    np.testing.assert_array_equal(np.asarray(level), source.pixels)
    assert level.shape == (100, 130) and level.ndim == 2 and level.dtype == np.int32


def test_a_second_read_is_served_from_the_cache(level, source):
    level[0:64, 0:64]
    first = source.reads
    np.testing.assert_array_equal(level[10:50, 20:60], source.pixels[10:50, 20:60])
    assert first == 4 and source.reads == first


def test_refresh_rereads_only_the_cached_chunks_that_changed(level, source):
    level[0:64, 0:64]  # 4 chunks cached
    source.pixels[40:45, 40:45] = -1  # inside chunk (1, 1)
    assert level.refresh(slice(40, 45), slice(40, 45)) == 1
    assert source.reads == 5
    np.testing.assert_array_equal(level[0:64, 0:64], source.pixels[0:64, 0:64])
    assert source.reads == 5  # the GUI's read after the refresh reads nothing


def test_without_refresh_a_change_is_not_seen(level, source):
    """What the refresh is for: the cache holds what it read until told otherwise."""
    level[0:32, 0:32]
    source.pixels[0, 0] = -7
    assert level[0, 0] != -7
    level.refresh(slice(0, 1), slice(0, 1))
    assert level[0, 0] == -7


def test_a_read_that_raced_a_refresh_is_not_kept(source):
    state = {"level": None}

    def racing_read(rows, cols):
        block = source.read(rows, cols)
        if source.reads == 1:  # a batch lands while this chunk is being read
            source.pixels[0, 0] = -3
            state["level"].refresh(slice(0, 1), slice(0, 1))
        return block

    level = CachedLevel(racing_read, source.pixels.shape, np.int32, chunk=(32, 32))
    state["level"] = level
    assert level[0, 0] == 0  # the stale read is returned once...
    assert level[0, 0] == -3  # ...but not cached


def test_the_cache_is_bounded(source):
    level = CachedLevel(source.read, source.pixels.shape, np.int32, chunk=(32, 32),
                        max_bytes=4 * 32 * 32 * 4)
    level[:, :]
    assert len(level.cached_chunks()) == 4


class TinyStore:
    """What ResultView needs of a result store: zarr mask and probability pyramids."""

    def __init__(self, downsample: float = 2.0, shapes=((128, 192), (64, 96)), halo: int = 0):
        import zarr
        from types import SimpleNamespace

        self.spec = SimpleNamespace(grid=SimpleNamespace(downsample=downsample, halo=halo))
        self.masks = [zarr.create_array(store={}, shape=s, chunks=(32, 32), dtype="uint8",
                                        fill_value=0) for s in shapes]
        self.probabilities = [zarr.create_array(store={}, shape=(2, *s), chunks=(2, 32, 32),
                                                dtype="uint8", fill_value=0) for s in shapes]

    def mask_levels(self):
        return tuple(self.masks)

    def probability_levels(self):
        return tuple(self.probabilities)


def test_result_view_update_maps_slide_boxes_onto_every_level():
    from napari_histoseg.io.display_cache import ResultView

    store = TinyStore()
    view = ResultView(store, show_probability=True)
    for level in view.mask_levels + view.probability_levels:
        level[:, :]  # on screen: everything cached
    store.masks[0][40:48, 64:72] = 1  # a tile at slide px (80, 128), size (16, 16)
    store.masks[1][20:24, 32:36] = 1
    store.probabilities[0][0, 40:48, 64:72] = 127  # stored background 127 / 254 = 0.5
    assert view.update([((80, 128), (16, 16))]) == 4  # one chunk per level of both pyramids
    assert (view.mask_levels[0][40:48, 64:72] == 1).all()
    assert (view.mask_levels[1][20:24, 32:36] == 1).all()
    np.testing.assert_allclose(view.probability_levels[0][40:48, 64:72], 0.5)


def test_a_later_run_with_the_same_layout_reuses_the_levels():
    from napari_histoseg.io.display_cache import ResultView

    first, second = TinyStore(), TinyStore()
    view = ResultView(first, show_probability=False)
    levels = list(view.mask_levels)
    levels[0][:, :]
    second.masks[0][0:8, 0:8] = 2
    assert view.reuse_for(second, show_probability=False)
    assert view.mask_levels == levels and view.store is second
    assert (levels[0][0:8, 0:8] == 2).all()  # re-read from the new store
    assert not view.reuse_for(TinyStore(shapes=((64, 64),)), show_probability=False)


def test_a_tile_also_refreshes_its_halo_where_its_blend_reached_the_neighbours():
    from napari_histoseg.io.display_cache import ResultView

    store = TinyStore(halo=8)
    view = ResultView(store, show_probability=False)
    view.mask_levels[0][:, :]
    store.masks[0][0:40, 0:40] = 1  # core (0, 0)-(32, 32) grid px plus its 8 px halo
    view.update([((0, 0), (64, 64))])  # the core, in level-0 slide px (downsample 2)
    assert (view.mask_levels[0][0:40, 0:40] == 1).all()


def test_warm_box_reads_what_a_first_draw_reads_and_not_the_finer_levels():
    from napari_histoseg.io.display_cache import ResultView

    store = TinyStore(shapes=((128, 192), (64, 96), (32, 48)))
    view = ResultView(store, show_probability=True)
    # on screen: slide px (0, 0)-(128, 128); level 0 would be 64², level 1 32², level 2 16²
    view.warm_box(((0, 0), (128, 128)), max_px=32 * 32)
    for pyramid in (view.mask_levels, view.probability_levels):
        assert pyramid[0].cached_chunks() == []  # finer than the screen: napari reads it later
        assert pyramid[1].cached_chunks() == [(0, 0)]
        assert sorted(pyramid[2].cached_chunks()) == [(0, 0), (0, 1)]  # all: the thumbnail
    store.masks[1][0:4, 0:4] = 9  # from now on a read would see 9
    assert (view.mask_levels[1][0:32, 0:32] == 0).all()  # served from what was warmed
