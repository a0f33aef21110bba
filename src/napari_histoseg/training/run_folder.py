"""A training run's folder: resumable state, history and the best checkpoint.

Layout::

    state-00012.safetensors   model and optimiser tensors after epoch 12
    state-00012.json          epoch, best score, optimiser and scheduler settings, history,
                              and the SHA-256 of its .safetensors
    history.jsonl             one EpochStats per line (rewritten whole after every epoch)
    best.safetensors/.json    the best model so far, a normal checkpoint

Each state is written as a pair (tensors first, then the JSON that names their
hash), every file through a temporary name, fsync and rename. Resuming takes the
newest pair whose JSON exists and whose hash matches, so a kill at any moment
leaves the previous epoch's state usable. Older states are removed only after
a newer one is whole.
"""

from __future__ import annotations

import json
from pathlib import Path

from napari_histoseg.io.atomic import atomic_write_bytes
from napari_histoseg.models.registry import file_sha256
from napari_histoseg.training.dataset_format import write_json_atomic

STATE_PREFIX = "state-"


class RunFolder:
    """The files of one training run under ``root``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def best_path(self) -> Path:
        return self.root / "best.safetensors"

    @property
    def history_path(self) -> Path:
        return self.root / "history.jsonl"

    def save_state(self, tensors: dict, meta: dict) -> Path:
        """Write epoch ``meta["epoch"]``'s state pair atomically; drop older states."""
        from safetensors.torch import save

        stem = f"{STATE_PREFIX}{meta['epoch']:05d}"
        weights = self.root / f"{stem}.safetensors"
        atomic_write_bytes(weights, save(tensors))
        write_json_atomic(self.root / f"{stem}.json", {**meta, "sha256": file_sha256(weights)})
        self._write_history(meta.get("history", []))
        for old in self._state_stems():
            if old < stem:
                for suffix in (".json", ".safetensors"):
                    (self.root / f"{old}{suffix}").unlink(missing_ok=True)
        return weights

    def latest_state(self) -> tuple[dict, dict] | None:
        """(tensors, meta) of the newest whole state, or None when there is none."""
        from safetensors.torch import load_file

        for stem in sorted(self._state_stems(), reverse=True):
            meta_path, weights = self.root / f"{stem}.json", self.root / f"{stem}.safetensors"
            try:
                meta = json.loads(meta_path.read_text())
                if weights.is_file() and file_sha256(weights) == meta.get("sha256"):
                    return load_file(str(weights)), meta
            except (OSError, ValueError):
                continue
        return None

    def history(self) -> list[dict]:
        """The epochs recorded so far (a torn last line, if any, is skipped)."""
        records = []
        if self.history_path.is_file():
            for line in self.history_path.read_text().splitlines():
                try:
                    records.append(json.loads(line))
                except ValueError:
                    break
        return records

    def _write_history(self, history: list[dict]) -> None:
        text = "".join(json.dumps(record) + "\n" for record in history)
        atomic_write_bytes(self.history_path, text.encode())

    def _state_stems(self) -> list[str]:
        return sorted({p.name.split(".")[0] for p in self.root.glob(f"{STATE_PREFIX}*.json")
                       if not p.name.endswith(".tmp")})
