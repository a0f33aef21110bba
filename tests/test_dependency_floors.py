"""The minimum versions in pyproject.toml are at least what the code needs.

``make test-floors`` goes further: it installs exactly these floors (from
.ci/floor_constraints.py) and runs the fast tests. This test keeps the floors honest
without a second environment: each known need is listed with its reason.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("floor_constraints",
                                               ROOT / ".ci" / "floor_constraints.py")
floor_constraints = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(floor_constraints)

#: package -> (lowest version the code works with, why)
NEEDS = {
    "scikit-image": ("0.26", "remove_small_objects / remove_small_holes(max_size=) in tissue.py"),
    "zarr": ("3.1.6", "Array.with_config (results skip the empty-chunk check); atomic chunk files "
                      "since 3.1.3"),
    "tifffile": ("2025.5.21", "its zarr stores (series.aszarr) speak zarr-python 3"),
    "numpy": ("2.0", "zarr 3.1.6 requires it"),
    "shapely": ("2.0.4", "first wheels that import under numpy 2"),
    "matplotlib": ("3.8.4", "first wheels that import under numpy 2"),
    "torch": ("2.3", "first wheels built against numpy 2 (from_numpy in the engine)"),
    "napari": ("0.9", "viewer.scene.camera (the docks' view and zoom); layers take units"),
    "defusedxml": ("0.7.1", "0.7.0 lets expat's ExpatError through for truncated XML"),
    "safetensors": ("0.4", "safe_open(...).metadata() for the checkpoint architecture"),
}
PYTHON_NEED = ("3.11", "zarr 3, tifffile 2025.5.21 and scikit-image 0.26 need Python 3.11")


def test_floors_cover_what_the_code_needs():
    floors = floor_constraints.floors(("dev",))
    low = {name: (floors.get(name), need, why) for name, (need, why) in NEEDS.items()
           if name not in floors or Version(floors[name]) < Version(need)}
    assert not low, "pyproject.toml allows versions the code cannot use: " + "; ".join(
        f"{name} floor {have} < {need} ({why})" for name, (have, need, why) in low.items())


def test_python_floor_and_every_dependency_has_one():
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    python = re.search(r'requires-python = ">=([0-9.]+)"', text).group(1)
    assert Version(python) >= Version(PYTHON_NEED[0]), PYTHON_NEED[1]
    floors = floor_constraints.floors(("dev", "openslide", "distributed"))
    assert len(floors) >= 25  # every requirement parsed as name>=version


def test_this_environment_satisfies_the_floors():
    below = []
    for name, floor in floor_constraints.floors(("dev",)).items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if Version(installed) < Version(floor):
            below.append(f"{name} {installed} < {floor}")
    assert not below, below


def test_make_test_floors_installs_the_constraints():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    target = makefile[makefile.index("test-floors:"):]
    assert ".ci/floor_constraints.py" in target and "-c .venv-floors/floors.txt" in target
    assert 'pytest -m "not slow"' in target
