"""The compute core imports no Qt, plugin discovery imports no torch, and no module
imports a layer above its own (the layers of DESIGN.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "napari_histoseg"
GUI_MODULES = ("qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "napari")
NAPARI_FACING = {"_reader.py", "_sample_data.py"}


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            roots.add(node.module.split(".")[0])
    return roots


def test_compute_core_imports_no_gui_toolkit():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] == "_qt" or relative.name in NAPARI_FACING:
            continue
        bad = imported_roots(path) & set(GUI_MODULES)
        if bad:
            offenders[str(relative)] = sorted(bad)
    assert not offenders, f"Qt/napari imports outside _qt/: {offenders}"


def test_reader_discovery_does_not_import_torch():
    code = ("import sys, napari_histoseg._reader, napari_histoseg.io.slide; "
            "print('torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True, timeout=120)
    assert result.stdout.strip() == "False"


#: DESIGN.md's layers, lowest first; a module may import only its own layer or lower ones.
LAYERS = (
    ("geometry",),
    ("io", "tissue", "stain", "registration", "registration_match", "registered", "edges", "pairing"),
    ("models",),
    ("inference", "explain"),
    ("training", "report"),
    ("cli", "_qt", "_reader", "_sample_data", "pair_command"),
)


def layer_of(top: str) -> int | None:
    return next((rank for rank, names in enumerate(LAYERS) if top in names), None)


def imported_package_modules(path: Path) -> set[str]:
    """Top-level package members (``io``, ``inference``...) a file imports, at any depth."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            parts = node.module.split(".")
            if parts[0] == "napari_histoseg":
                if len(parts) > 1:
                    found.add(parts[1])
                else:
                    found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "napari_histoseg" and len(parts) > 1:
                    found.add(parts[1])
    return found


def test_no_module_imports_a_higher_layer():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        own = layer_of(relative.parts[0].removesuffix(".py"))
        if own is None:
            continue
        upward = sorted(name for name in imported_package_modules(path)
                        if (layer_of(name) or 0) > own)
        if upward:
            offenders[str(relative)] = upward
    assert not offenders, f"imports of a higher layer (see DESIGN.md): {offenders}"


def test_layer_check_sees_an_upward_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from napari_histoseg.inference.tiling import TileQueue\n")
    assert imported_package_modules(bad) == {"inference"}
    assert layer_of("inference") > layer_of("io")
