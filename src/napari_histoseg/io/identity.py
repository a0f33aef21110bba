"""A slide file's identity: a hash of its header, samples of its tile data, and its size.

Reading about 2.5 MiB however large the file (the first and last MiB, and eight
64 KiB samples spread over the rest: tile data), so it costs milliseconds, yet
a different slide, or the same name re-scanned or replaced, gives a different
identity. The workspace records it and refuses to mix results of two slides.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from napari_histoseg.io.errors import SlideError

HEAD = TAIL = 1 << 20
SAMPLES, SAMPLE = 8, 1 << 16


def slide_identity(path: str | Path) -> str:
    """Hex SHA-256 of ``path``'s size, head, tail and evenly spaced samples."""
    path = Path(path)
    try:
        size = os.path.getsize(path)
        digest = hashlib.sha256(f"histoseg-slide-identity-1 {size}".encode())
        with open(path, "rb") as handle:
            for offset, length in _pieces(size):
                handle.seek(offset)
                digest.update(handle.read(length))
    except OSError as err:
        raise SlideError(path, f"cannot be read to identify it ({err})") from err
    return digest.hexdigest()


def _pieces(size: int) -> list[tuple[int, int]]:
    if size <= HEAD + TAIL + SAMPLES * SAMPLE:
        return [(0, size)]
    step = (size - HEAD - TAIL) // (SAMPLES + 1)
    middle = [(HEAD + step * (i + 1), SAMPLE) for i in range(SAMPLES)]
    return [(0, HEAD), *middle, (size - TAIL, TAIL)]
