"""The npe2 manifest is valid and every python_name it names imports."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import yaml
from npe2 import PluginManifest

MANIFEST = Path(__file__).resolve().parents[1] / "napari.yaml"


def test_manifest_validates():
    manifest = PluginManifest.from_file(MANIFEST)
    assert manifest.name == "napari-histoseg"


def test_installed_distribution_ships_the_manifest():
    manifest = PluginManifest.from_distribution("napari-histoseg")
    assert manifest.contributions.readers


def test_every_python_name_imports():
    commands = yaml.safe_load(MANIFEST.read_text())["contributions"]["commands"]
    assert commands
    for command in commands:
        module_name, attribute = command["python_name"].split(":")
        module = importlib.import_module(module_name)
        assert callable(getattr(module, attribute)), command["python_name"]


def test_npe2_validate_accepts_the_installed_plugin():
    npe2 = Path(sys.executable).with_name("npe2")
    result = subprocess.run([str(npe2), "validate", "napari-histoseg"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
