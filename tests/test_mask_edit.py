"""Committing, deleting and recovering mask edits in a result store (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from napari_histoseg.geometry import TileGrid
from napari_histoseg.io.blend import NOT_COMPUTED, labels_of, pool_2x2
from napari_histoseg.io.edit_commit import (Edit, commit_edit, corrections_of, delete_correction,
                                            load_draft, reapply_corrections, save_draft)
from napari_histoseg.io.mask_edit import EditWindow, read_window, window_for_box
from napari_histoseg.io.result_update import ResultUpdater
from napari_histoseg.io.results import ResultSpec, ResultStore, WorkspaceError
from napari_histoseg.io.workspace import Workspace, WorkspaceBusyError, workspace_lock

GRID = TileGrid(shape=(300, 410), downsample=2.0, tile_size=64, halo=8)   # stride 48


@pytest.fixture
def workspace(tmp_path) -> Workspace:
    return Workspace(tmp_path / "slide.histoseg", slide_path=None)


@pytest.fixture
def store(workspace) -> ResultStore:
    """Two classes; smooth random tile predictions; the last tile row not computed."""
    workspace.root.mkdir()
    spec = ResultSpec(grid=GRID, slide_mpp=(0.5, 0.5), class_names=("non-tumour", "tumour"),
                      class_colors=("#000000", "#00ff00"), model="tiny", model_sha256="ab")
    store = ResultStore.create(workspace.results_path, spec)
    rows, cols = GRID.grid_shape
    indices = np.arange((rows - 1) * cols)
    yy, xx = np.mgrid[:64, :64]
    tumour = [(np.sin(yy / 9 + i) * np.cos(xx / 7 - i) + 1) / 2 for i in indices]
    predictions = np.stack([np.stack([1 - t, t]) for t in tumour]) * 255
    updater = ResultUpdater(store)
    updater.save_tiles(indices, predictions.round().astype(np.uint8))
    updater.publish(indices)
    return store


def snapshot(store) -> list[np.ndarray]:
    return [np.asarray(a[...]).copy() for a in store.mask_levels() + store.probability_levels()]


def assert_pyramid_consistent(store) -> None:
    """Every overview is the 2 x 2 reduction of the level below, everywhere."""
    probabilities, masks = store.probability_levels(), store.mask_levels()
    for level in range(1, store.n_levels):
        pooled = pool_2x2(probabilities[level - 1][...])
        np.testing.assert_array_equal(probabilities[level][...], pooled)
        np.testing.assert_array_equal(masks[level][...], labels_of(pooled))


def stroke_edit(store, window: EditWindow, value: int = 1, rows=slice(10, 30)) -> Edit:
    labels = read_window(store, window)
    labels[rows, 5:-5] = value
    image = np.full((*window.size, 3), 200, dtype=np.uint8)
    return Edit(window, labels, image, slide="/slides/s.tif", slide_sha256="cd", author="ann")


def test_a_commit_writes_level_0_every_overview_and_one_record(workspace, store):
    model = snapshot(store)
    window = EditWindow((90, 100), (70, 150))
    edit = stroke_edit(store, window, value=0)
    record_id = commit_edit(workspace, store, edit)
    np.testing.assert_array_equal(read_window(store, window), edit.labels)
    assert_pyramid_consistent(store)
    overview = np.asarray(store.mask_levels()[1][50:55, 60:120])   # above rows 100-110
    assert (overview == 0).all() and (model[1][50:55, 60:120] == 1).any()
    record = corrections_of(workspace).load(record_id)
    np.testing.assert_array_equal(record.before, model[0][90:160, 100:250])
    np.testing.assert_array_equal(record.after, edit.labels)
    assert (record.location, record.size, record.mpp) == ((180, 200), (140, 300), (1.0, 1.0))
    assert (record.model_sha256, record.slide_sha256, record.author) == ("ab", "cd", "ann")
    assert record.area_changed_um2 == float((edit.labels != record.before).sum())


def test_painting_not_computed_pixels_makes_them_computed(workspace, store):
    window = EditWindow((292, 0), (8, 60))             # rows 296-299: no finished tile reaches
    assert (read_window(store, window)[4:] == NOT_COMPUTED).all()
    commit_edit(workspace, store, stroke_edit(store, window, rows=slice(5, 7)))
    assert (read_window(store, window)[5:7, 5:-5] == 1).all()
    assert read_window(store, window)[7, 10] == NOT_COMPUTED
    assert_pyramid_consistent(store)


def test_deleting_restores_the_models_pixels_and_keeps_later_edits(workspace, store):
    model = snapshot(store)
    first = commit_edit(workspace, store, stroke_edit(store, EditWindow((90, 100), (70, 150)), 0))
    second_edit = stroke_edit(store, EditWindow((100, 200), (60, 100)), 1, rows=slice(0, 40))
    commit_edit(workspace, store, second_edit)
    after_both = read_window(store, EditWindow((0, 0), GRID.shape))
    delete_correction(workspace, store, first)
    now = read_window(store, EditWindow((0, 0), GRID.shape))
    np.testing.assert_array_equal(now[100:140, 205:295], 1)            # the second's stroke
    outside_second = np.ones(GRID.shape, bool)
    outside_second[100:160, 200:300] = False
    np.testing.assert_array_equal(now[outside_second], model[0][outside_second])
    assert (after_both != now).any()
    assert_pyramid_consistent(store)
    delete_correction(workspace, store, corrections_of(workspace).ids()[0])
    for restored, original in zip(snapshot(store), model):
        np.testing.assert_array_equal(restored, original)               # byte for byte


def test_a_bad_edit_is_refused_and_nothing_is_written(workspace, store):
    model = snapshot(store)
    window = EditWindow((0, 0), (40, 40))
    with pytest.raises(WorkspaceError, match="label 7, which is no class of this mask"):
        commit_edit(workspace, store, stroke_edit(store, window, value=7))
    edit = stroke_edit(store, window)
    wrong = Edit(EditWindow((0, 0), (40, 41)), edit.labels, edit.image, edit.slide)
    with pytest.raises(WorkspaceError, match=r"the edit is \(40, 40\) px but its window"):
        commit_edit(workspace, store, wrong)
    with workspace_lock(workspace.root), pytest.raises(WorkspaceBusyError):
        commit_edit(workspace, store, edit)
    assert corrections_of(workspace).ids() == []
    for now, before in zip(snapshot(store), model):
        np.testing.assert_array_equal(now, before)


def test_records_whose_pixels_were_lost_are_written_again(workspace, store):
    model = snapshot(store)
    edit = stroke_edit(store, EditWindow((50, 50), (40, 80)), value=0)
    corrections_of(workspace).commit(edit.correction(store, read_window(store, edit.window)))
    assert reapply_corrections(workspace, store) == 1                 # as after a crash
    np.testing.assert_array_equal(read_window(store, edit.window), edit.labels)
    reapply_corrections(workspace, store)                             # idempotent
    np.testing.assert_array_equal(read_window(store, edit.window), edit.labels)
    assert (snapshot(store)[0] != model[0]).any()
    assert_pyramid_consistent(store)


def test_the_window_under_a_view_is_clipped_to_the_mask(store):
    window = window_for_box(store, ((-100.0, 500.0), (300.0, 2000.0)))   # level-0 px
    assert window == EditWindow((0, 250), (100, 160))                   # mask px (d = 2)
    with pytest.raises(WorkspaceError, match="none of the mask"):
        window_for_box(store, ((5000.0, 0.0), (10.0, 10.0)))
    with pytest.raises(WorkspaceError, match="zoom in"):
        window_for_box(store, ((0.0, 0.0), (600.0, 820.0)), max_pixels=10_000)


def test_an_uncommitted_edit_survives_in_the_recovery_file(workspace, store):
    assert load_draft(workspace, store) is None
    edit = stroke_edit(store, EditWindow((20, 30), (40, 50)))
    save_draft(workspace, store, edit)
    restored = load_draft(workspace, store)
    assert restored.window == edit.window and restored.author == "ann"
    np.testing.assert_array_equal(restored.labels, edit.labels)
    np.testing.assert_array_equal(restored.image, edit.image)
    assert corrections_of(workspace).ids() == []                      # not a commit


def test_an_edit_outlives_a_resumed_run_that_recomputes_its_blocks(workspace, store):
    window = EditWindow((90, 100), (70, 150))
    edit = stroke_edit(store, window, value=0)
    commit_edit(workspace, store, edit)
    rows, cols = GRID.grid_shape
    again = np.arange((rows - 1) * cols)[:cols * 4]                    # tiles rows 0-3
    updater = ResultUpdater(store)
    updater.save_tiles(again, np.stack([store.tiles[divmod(int(i), cols)] for i in again]))
    updater.publish(again)                                            # blocks rewritten
    np.testing.assert_array_equal(read_window(store, window), edit.labels)
    assert_pyramid_consistent(store)


def test_records_of_other_classes_are_not_written_into_the_mask(workspace, store):
    """A run started over with a model of other classes keeps its own labels there."""
    from dataclasses import replace

    model = snapshot(store)
    edit = stroke_edit(store, EditWindow((50, 50), (40, 80)), value=0)
    mine = edit.correction(store, read_window(store, edit.window))
    assert mine.class_names == ("non-tumour", "tumour")
    corrections_of(workspace).commit(replace(mine, class_names=("background", "in situ",
                                                                "invasive")))
    assert reapply_corrections(workspace, store) == 0
    np.testing.assert_array_equal(snapshot(store)[0], model[0])
    corrections_of(workspace).commit(mine)
    assert reapply_corrections(workspace, store) == 1


def test_records_of_another_resolution_are_not_written_into_the_mask(workspace, store):
    model = snapshot(store)
    edit = stroke_edit(store, EditWindow((50, 50), (40, 80)), value=0)
    other = edit.correction(store, read_window(store, edit.window))
    other = type(other)(image=other.image, after=other.after, before=other.before,
                        location=other.location, size=other.size, mpp=(2.0, 2.0),
                        slide=other.slide)                              # a 2 µm/px model's
    corrections_of(workspace).commit(other)
    assert reapply_corrections(workspace, store) == 0
    np.testing.assert_array_equal(snapshot(store)[0], model[0])
