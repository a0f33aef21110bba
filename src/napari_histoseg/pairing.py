"""A CK5/6 slide paired with an H&E: the pairing and its registration, kept in the H&E's workspace.

``<workspace>/ck56_pairing.json`` (written atomically: temporary file, fsync,
rename) names the CK5/6 file, its identity (``io.identity``) and the registration
(``registration.Registration``). Reopening the H&E restores it; a CK5/6 file that
changed since is reported, never silently used. ``pair_slides`` is the one
generator the Slide dock and ``histoseg pair`` both run.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

from napari_histoseg.io.atomic import atomic_write_bytes
from napari_histoseg.io.errors import FileError
from napari_histoseg.io.identity import slide_identity
from napari_histoseg.registration import Registration, RegistrationParams, register

PAIRING_NAME = "ck56_pairing.json"
FORMAT = 1


class PairingError(FileError):
    """A pairing record that is damaged, or whose CK5/6 file is gone or changed."""


@dataclass(frozen=True)
class Pairing:
    """The CK5/6 slide ``ck56_path`` (identity ``ck56_identity``) registered by ``registration``."""

    ck56_path: Path
    ck56_identity: str
    registration: Registration

    def to_json(self) -> dict:
        return {"format": FORMAT, "ck56_path": str(self.ck56_path), "ck56_identity": self.ck56_identity,
                "registration": self.registration.to_dict()}


def save_pairing(workspace_root: str | Path, pairing: Pairing) -> Path:
    """Write ``pairing`` into the workspace atomically; returns the file."""
    path = Path(workspace_root) / PAIRING_NAME
    return atomic_write_bytes(path, json.dumps(pairing.to_json(), indent=2).encode())


def load_pairing(workspace_root: str | Path, check_file: bool = True) -> Pairing | None:
    """The workspace's pairing, or None if it has none.

    Raises PairingError naming the record when it is damaged, or naming the CK5/6
    file when ``check_file`` and the file is missing or is no longer the one registered.
    """
    path = Path(workspace_root) / PAIRING_NAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
        if data.get("format") != FORMAT:
            raise ValueError(f"format {data.get('format')!r}, this version reads {FORMAT}")
        pairing = Pairing(Path(data["ck56_path"]), str(data["ck56_identity"]),
                          Registration.from_dict(data["registration"]))
    except (ValueError, KeyError, TypeError) as err:
        raise PairingError(path, f"the CK5/6 pairing record is damaged ({err}); pair the slides again") from err
    if check_file:
        if not pairing.ck56_path.is_file():
            raise PairingError(pairing.ck56_path, "the paired CK5/6 slide is gone; pair a CK5/6 slide again")
        if slide_identity(pairing.ck56_path) != pairing.ck56_identity:
            raise PairingError(pairing.ck56_path, "this CK5/6 file changed since it was registered; "
                                                  "pair it again")
    return pairing


def pair_slides(he, ck56, workspace_root: str | Path, params: RegistrationParams = RegistrationParams(),
                edges: bool = True) -> Generator[tuple[str, float], None, Pairing]:
    """Register ``ck56`` onto ``he`` (Slides), save the pairing, then compute the edge pyramid.

    Yields (stage, fraction done) and returns the Pairing. The pairing is saved even
    when the fit is poor (``registration.ok`` False), so the user can nudge it; a
    RegistrationError (no µm/px, other tissue, no tissue) saves nothing.
    """
    from napari_histoseg.edges import edge_pyramid
    from napari_histoseg.registered import RegisteredSlide

    yield "registering", 0.0
    registration = register(he, ck56, params)
    pairing = Pairing(Path(ck56.path).resolve(), slide_identity(ck56.path), registration)
    save_pairing(workspace_root, pairing)
    yield "registered", 0.5
    if edges:
        for fraction in edge_pyramid(RegisteredSlide(he, ck56, registration), workspace_root):
            yield "edges", 0.5 + 0.5 * fraction
    return pairing


def renudge(workspace_root: str | Path, pairing: Pairing, he, dy_um: float, dx_um: float,
            rotation_deg: float) -> Pairing:
    """``pairing`` with a manual nudge (about the H&E's centre), saved; edges must be recomputed."""
    h0, w0 = he.level_shapes[0]
    nudged = Pairing(pairing.ck56_path, pairing.ck56_identity,
                     pairing.registration.nudged(dy_um, dx_um, rotation_deg, he.mpp,
                                                 ((h0 - 1) / 2, (w0 - 1) / 2)))
    save_pairing(workspace_root, nudged)
    return nudged


def fusion_wanted(slide_path: str | Path, model: str | Path | None, out_dir: str | Path | None = None) -> bool:
    """True when ``model`` is a fusion-network checkpoint and the slide's workspace holds a
    CK5/6 pairing: the Segment dock then runs on the registered pair. Reads two small
    JSON files only (no torch)."""
    from napari_histoseg.io.workspace import workspace_dir_for

    if not model or not str(model).endswith(".safetensors"):
        return False
    try:
        config = json.loads(Path(model).with_suffix(".json").read_text())
    except (OSError, ValueError):
        return False
    if config.get("architecture") != "edge_fusion":
        return False
    return (workspace_dir_for(slide_path, out_dir) / PAIRING_NAME).is_file()
