"""Pairing a CK5/6 slide with an H&E: saved in the H&E's workspace, restored, and checked."""

from __future__ import annotations

import json

import numpy as np
import pytest

from napari_histoseg.cli import main
from napari_histoseg.io.edge_store import EDGES_NAME, open_edges
from napari_histoseg.io.synthetic import SynthConfig, generate_pair
from napari_histoseg.pairing import PAIRING_NAME, PairingError, load_pairing


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return generate_pair(tmp_path_factory.mktemp("pair"), SynthConfig(size=(1024, 1024), mpp=2.0, seed=3))


def test_pair_command_saves_registration_and_edges(pair, tmp_path, capsys):
    code = main(["pair", str(pair.he_path), str(pair.ck56_path), "--out", str(tmp_path / "ws")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "registration good" in out
    restored = load_pairing(tmp_path / "ws")
    assert restored.ck56_path == pair.ck56_path.resolve()
    points = np.array([[300.0, 400.0, 1.0], [700.0, 600.0, 1.0]])
    error = np.hypot(*((points @ restored.registration.matrix.T - points @ pair.affine.T)[:, :2].T))
    assert error.max() < 3.0
    edges = open_edges(tmp_path / "ws" / EDGES_NAME)
    assert edges.levels[0][:].max() > 100


def test_nudge_is_saved_on_top_of_the_estimate(pair, tmp_path, capsys):
    main(["pair", str(pair.he_path), str(pair.ck56_path), "--out", str(tmp_path / "a"), "--no-edges"])
    main(["pair", str(pair.he_path), str(pair.ck56_path), "--out", str(tmp_path / "b"), "--no-edges",
          "--nudge", "10", "0", "0"])
    plain, nudged = load_pairing(tmp_path / "a"), load_pairing(tmp_path / "b")
    assert nudged.registration.nudge == (10.0, 0.0, 0.0)
    # the overlay moved 10 µm = 5 px down: H&E point p now shows CK5/6 what p - (5, 0) showed
    p = np.array([500.0, 500.0, 1.0])
    np.testing.assert_allclose(nudged.registration.matrix @ p,
                               plain.registration.matrix @ (p - [5.0, 0.0, 0.0]), atol=1e-6)
    assert not (tmp_path / "b" / EDGES_NAME).exists()   # --no-edges


def test_damaged_or_changed_pairing_is_reported(pair, tmp_path):
    main(["pair", str(pair.he_path), str(pair.ck56_path), "--out", str(tmp_path), "--no-edges"])
    record = json.loads((tmp_path / PAIRING_NAME).read_text())
    record["ck56_identity"] = "0" * 64
    (tmp_path / PAIRING_NAME).write_text(json.dumps(record))
    with pytest.raises(PairingError, match="ck56.tif: this CK5/6 file changed"):
        load_pairing(tmp_path)
    (tmp_path / PAIRING_NAME).write_text("{not json")
    with pytest.raises(PairingError, match="ck56_pairing.json: the CK5/6 pairing record is damaged"):
        load_pairing(tmp_path)


def test_blank_ck56_is_a_clear_cli_error(pair, tmp_path, capsys):
    import tifffile

    blank = tmp_path / "blank.tif"
    tifffile.imwrite(blank, np.full((1024, 1024, 3), 245, np.uint8), tile=(256, 256), photometric="rgb",
                     resolution=(1e4 / 2.0, 1e4 / 2.0), resolutionunit="CENTIMETER")
    code = main(["pair", str(pair.he_path), str(blank), "--out", str(tmp_path / "ws")])
    assert code == 2
    assert "blank.tif: no tissue found" in capsys.readouterr().err
    assert not (tmp_path / "ws" / PAIRING_NAME).exists()


def test_fusion_is_wanted_only_for_a_fusion_checkpoint_on_a_paired_slide(pair, tmp_path):
    from napari_histoseg.models.catalog import BUNDLED_CHECKPOINT
    from napari_histoseg.pairing import fusion_wanted

    fusion = tmp_path / "fusion.safetensors"
    fusion.write_bytes(b"")
    fusion.with_suffix(".json").write_text(json.dumps({"architecture": "edge_fusion"}))
    workspace = tmp_path / "ws"
    assert not fusion_wanted(pair.he_path, fusion, workspace)          # nothing paired yet
    main(["pair", str(pair.he_path), str(pair.ck56_path), "--out", str(workspace), "--no-edges"])
    assert fusion_wanted(pair.he_path, fusion, workspace)
    assert not fusion_wanted(pair.he_path, BUNDLED_CHECKPOINT, workspace)   # HI-Net reads no CK5/6
    assert not fusion_wanted(pair.he_path, None, workspace)
