"""The compute core imports no Qt, and plugin discovery imports no torch."""

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
