"""The old and the new model scored on the same held-out tiles, for the Retrain dock.

Both checkpoints go through ``evaluate.evaluate_checkpoint`` on the dataset's
test split (its validation split when the test split is empty), so they see the
same pixels, resampled and normalised each as its own checkpoint expects.
Call it off the GUI thread: it imports torch and runs both models.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from napari_histoseg.training.evaluate import Evaluation, evaluate_checkpoint


@dataclass(frozen=True)
class Comparison:
    """Scores of the new model and, when there was one, of the old model it would replace."""

    old: Evaluation | None
    new: Evaluation

    def rows(self) -> list[tuple[str, str, str]]:
        """(metric, old, new) as text: MIoU, Acc, then Dice per class; "–" with no old model."""
        def figures(evaluation: Evaluation | None) -> list[str]:
            if evaluation is None:
                return ["–"] * (2 + len(self.new.class_names))
            s = evaluation.scores
            return [f"{v:.3f}" for v in (s.miou, s.acc, *s.dice)]

        names = ["MIoU", "Accuracy", *(f"Dice {name}" for name in self.new.class_names)]
        return list(zip(names, figures(self.old), figures(self.new)))

    def verdict(self) -> str:
        """One sentence: which model scores the higher MIoU, on how many tiles."""
        tiles = f"{self.new.n_images} held-out {self.new.split} tiles"
        if self.old is None:
            return f"New model: MIoU {self.new.scores.miou:.3f} on {tiles} (no old model to compare)."
        gain = self.new.scores.miou - self.old.scores.miou
        better = "better" if gain > 0 else "not better"
        return f"The new model is {better} than the old: MIoU {gain:+.3f} on {tiles}."

    @property
    def new_is_better(self) -> bool:
        return self.old is None or self.new.scores.miou > self.old.scores.miou


def compare_models(new: str | Path, old: str | Path | None, dataset: str | Path) -> Comparison:
    """Evaluate ``new`` and ``old`` on the same held-out split of the built ``dataset``."""
    from napari_histoseg.training.dataset_format import read_manifest

    split = "test" if read_manifest(dataset).split("test") else "val"
    old_scores = evaluate_checkpoint(old, dataset, split) if old is not None else None
    return Comparison(old_scores, evaluate_checkpoint(new, dataset, split))
