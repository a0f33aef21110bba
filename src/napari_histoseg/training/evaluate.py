"""Evaluate a checkpoint on held-out data and print the papers' table.

Data is a built dataset (one split of it, as stored) or a folder of raw
image/mask pairs (resampled to the model's µm/px and stain-normalised as the
model expects, exactly as the dataset builder would). All figures come from one
confusion matrix over every pixel (Acc, MPA, MIoU, FWIoU, Dice per class; HI-Net
§4.3, fusion paper §IV).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from napari_histoseg.training.metrics import Scores, confusion_matrix, scores
from napari_histoseg.training.patch_dataset import MODEL_MULTIPLE, pad_to_multiple
from napari_histoseg.training.sources import IGNORE_LABEL


@dataclass(frozen=True)
class Evaluation:
    """Scores of one model on one data set."""

    model: str
    data: str
    split: str
    n_images: int
    class_names: tuple[str, ...]
    scores: Scores

    def as_metrics(self) -> dict:
        """The figures as recorded in a checkpoint's ``metrics``."""
        return {"data": self.data, "split": self.split, "images": self.n_images,
                **{k: round(v, 4) for k, v in self.scores.as_dict().items() if isinstance(v, float)},
                "dice": [round(v, 4) for v in self.scores.dice],
                "iou": [round(v, 4) for v in self.scores.iou]}


def evaluate_checkpoint(model_path: str | Path, data: str | Path, split: str = "test",
                        source: dict | None = None, device: str = "cpu",
                        flips: int | None = None) -> Evaluation:
    """Evaluate ``model_path`` on ``data``: a built dataset's ``split``, or, with ``source``
    (a pairs-source dict with ``mpp`` and ``mask``), a folder of raw image/mask pairs.
    ``flips``: flipped views averaged per image, as segmenting would (default: the card's)."""
    from napari_histoseg.inference.flip_views import views_of
    from napari_histoseg.models.registry import load_checkpoint

    loaded = load_checkpoint(model_path, device=device)
    views = views_of(loaded.config.card, flips)
    pairs = _pairs(loaded.config, data, split, source)
    matrix = np.zeros((len(loaded.config.class_names),) * 2, np.int64)
    for image, mask in pairs:
        prediction = predict_labels(loaded, image, views)
        matrix += confusion_matrix(mask, prediction, matrix.shape[0], IGNORE_LABEL)
    return Evaluation(Path(model_path).name, str(data), split if source is None else "all",
                      len(pairs), loaded.config.class_names, scores(matrix))


def predict_labels(loaded, image: np.ndarray, flips: int = 1) -> np.ndarray:
    """(h, w) class ids for an (h, w, 3) uint8 image already at the model's µm/px and stain,
    from probabilities averaged over ``flips`` flipped views (``inference.flip_views``)."""
    import torch

    from napari_histoseg.inference.flip_views import averaged_probabilities
    from napari_histoseg.models.device import prepare_batch

    padded, _ = pad_to_multiple(image, np.zeros(image.shape[:2], np.uint8), MODEL_MULTIPLE)
    mean = np.asarray(loaded.config.normalisation["mean"], np.float32)
    std = np.asarray(loaded.config.normalisation["std"], np.float32)
    chw = ((padded.astype(np.float32) / 255 - mean) / std).transpose(2, 0, 1)[None]
    device = next(loaded.model.parameters()).device
    with torch.inference_mode():
        probabilities = averaged_probabilities(
            loaded.model.predict_logits, prepare_batch(torch.from_numpy(chw.copy()), device), flips)
    return probabilities.argmax(1)[0, :image.shape[0], :image.shape[1]].cpu().numpy()


def _pairs(config, data, split: str, source: dict | None) -> list[tuple[np.ndarray, np.ndarray]]:
    from napari_histoseg.training.dataset_format import read_manifest

    if source is not None:
        return list(_raw_pairs(config, data, source))
    from napari_histoseg.training.patch_dataset import PatchDataset

    manifest = read_manifest(data)
    dataset = PatchDataset(data, split, config.normalisation)
    adapt = _stain_adapter(config, manifest.stain)
    return [(adapt(image), mask) for image, mask in (dataset.pair(i) for i in range(len(dataset)))]


def _raw_pairs(config, folder, source: dict):
    from napari_histoseg.tissue import detect_tissue
    from napari_histoseg.training.build_dataset import resample
    from napari_histoseg.training.sources import source_from_dict

    pairs = source_from_dict({**source, "path": str(folder)})
    adapt = _stain_adapter(config, None)
    for item in pairs:
        image, mask = resample(item.image, item.mask, item.mpp / config.input_mpp)
        yield adapt(image, detect_tissue(image)), mask


def _stain_adapter(config, data_stain: dict | None):
    """A function normalising images the way the model was trained, unless the data already is."""
    from napari_histoseg.stain import StainError, StainStats, normalise

    if not config.stain or (data_stain or {}).get("method") == config.stain.get("method"):
        return lambda image, tissue=None: image
    target = StainStats.from_dict(config.stain)

    def adapt(image: np.ndarray, tissue: np.ndarray | None = None) -> np.ndarray:
        try:
            return normalise(image, StainStats.fit(image, tissue), target)
        except StainError:
            return image
    return adapt


def format_table(evaluation: Evaluation) -> str:
    """The papers' table: one header row and one row of figures."""
    s = evaluation.scores
    names = [f"Dice({name})" for name in evaluation.class_names]
    header = ["Acc", "MPA", "MIoU", "FWIoU", *names]
    values = [s.acc, s.mpa, s.miou, s.fwiou, *s.dice]
    widths = [max(len(h), 6) for h in header]
    return "\n".join([
        f"{evaluation.model} on {evaluation.data} ({evaluation.split}, {evaluation.n_images} images)",
        "  ".join(h.rjust(w) for h, w in zip(header, widths)),
        "  ".join(f"{v:.4f}".rjust(w) for v, w in zip(values, widths))])


def write_csv(evaluation: Evaluation, path: str | Path) -> Path:
    """One header line and one row: model, data, split, images, the metrics, Dice and IoU per class."""
    s = evaluation.scores
    header = ["model", "data", "split", "images", "acc", "mpa", "miou", "fwiou",
              *(f"dice_{n}" for n in evaluation.class_names), *(f"iou_{n}" for n in evaluation.class_names)]
    row = [evaluation.model, evaluation.data, evaluation.split, evaluation.n_images,
           *(f"{v:.6f}" for v in (s.acc, s.mpa, s.miou, s.fwiou, *s.dice, *s.iou))]
    path = Path(path)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerow(row)
    return path
