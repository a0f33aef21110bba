"""Shared fixtures: small slides written into tmp_path by the tests themselves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CMU_SVS = SHARED_DATA / "cmu-1-small-region" / "CMU-1-Small-Region.svs"


def tissue_like_rgb(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A pink-and-purple (h, w, 3) uint8 image with structure at every scale."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[: shape[0], : shape[1]]
    waves = np.sin(y / 37.0) * np.cos(x / 23.0)
    noise = rng.integers(0, 20, size=shape)
    rgb = np.stack([200 + 30 * waves, 120 + 60 * waves, 180 + 20 * waves], axis=-1)
    return np.clip(rgb + noise[..., None], 0, 255).astype(np.uint8)


def write_pyramid_tiff(path: Path, image: np.ndarray, mpp: float | None = 0.5,
                       levels: int = 3, tile: int = 256, compression: str = "jpeg") -> Path:
    """Write a tiled pyramidal TIFF (SubIFDs) with resolution tags in cm."""
    import tifffile

    options = dict(tile=(tile, tile), compression=compression, photometric="rgb")
    resolution = dict(resolution=(1e4 / mpp, 1e4 / mpp), resolutionunit="CENTIMETER") if mpp else {}
    with tifffile.TiffWriter(path, bigtiff=True) as tif:
        tif.write(image, subifds=levels - 1, **options, **resolution)
        for level in range(1, levels):
            factor = 2**level
            reduced = image[::factor, ::factor]
            scaled = dict(resolution=(1e4 / (mpp * factor),) * 2, resolutionunit="CENTIMETER") if mpp else {}
            tif.write(reduced, subfiletype=1, **options, **scaled)
    return path


def store_arrays(path: Path) -> dict[str, bytes]:
    """Every array of a zarr store (results.zarr) by name, as raw bytes."""
    import zarr

    group = zarr.open_group(path, mode="r")
    return {name: array[...].tobytes() for name, array in group.arrays()} | {
        f"{name}/{inner}": data for name, sub in group.groups()
        for inner, data in store_arrays(Path(path) / name).items()}


def assert_same_arrays(path_a: Path, path_b: Path) -> None:
    """Two stores hold the same arrays with the same bytes."""
    a, b = store_arrays(path_a), store_arrays(path_b)
    assert sorted(a) == sorted(b)
    different = [name for name in a if a[name] != b[name]]
    assert not different, f"arrays differ: {different}"


def drain(generator) -> tuple[list, object]:
    """Run a generator to its end: (the events it yielded, the value it returned)."""
    events = []
    while True:
        try:
            events.append(next(generator))
        except StopIteration as stop:
            return events, stop.value


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A tiny HI-Net checkpoint (random weights) for 1 µm/px and 128² tiles."""
    from napari_histoseg.models.registry import ModelConfig, create_model, save_checkpoint

    config = ModelConfig(architecture="hinet", hyperparameters={"size": "tiny"},
                         input_mpp=1.0, tile_size=128)
    return save_checkpoint(create_model("hinet", size="tiny"), config,
                           tmp_path / "model.safetensors")


@pytest.fixture
def pyramid_tiff(tmp_path: Path) -> Path:
    """A 1536 x 2048 JPEG-tiled pyramidal TIFF at 0.5 µm/px with three levels."""
    return write_pyramid_tiff(tmp_path / "slide.tif", tissue_like_rgb((1536, 2048)))


@pytest.fixture
def cmu_svs() -> Path:
    if not CMU_SVS.is_file():
        pytest.skip(f"real test slide not found at {CMU_SVS}")
    return CMU_SVS


@pytest.fixture(autouse=True)
def private_model_library(tmp_path: Path, monkeypatch) -> Path:
    """Every test gets its own model library and runs folder, never the user's."""
    monkeypatch.setenv("HISTOSEG_LIBRARY", str(tmp_path / "library"))
    monkeypatch.setenv("HISTOSEG_RUNS", str(tmp_path / "retrain-runs"))
    return tmp_path / "library"
