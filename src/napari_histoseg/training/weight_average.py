"""An exponential moving average of a model's weights, kept beside the trained model.

Averaging the weights of the last few hundred optimiser steps gives a smoother
model than the last step's (Polyak averaging); the trainer validates and keeps
the average when the run asks for it (``TrainConfig.ema``). Built on torch's
``torch.optim.swa_utils.AveragedModel`` with ``get_ema_multi_avg_fn``; batch-norm
statistics are averaged with the weights (``use_buffers=True``).
"""

from __future__ import annotations

#: Prefix of the average's tensors in a run's resumable state.
STATE_PREFIX = "average."


class WeightAverage:
    """``decay``-weighted running average of ``model``'s parameters and buffers.

    ``decay`` in (0, 1): each step keeps that share of the average; 0.995 averages
    over roughly the last 200 steps.
    """

    def __init__(self, model, decay: float):
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        if not 0.0 < decay < 1.0:
            raise ValueError(f"the weight-average decay must lie in (0, 1), got {decay}")
        self._averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay),
                                       use_buffers=True)

    @property
    def module(self):
        """The averaged model (same class as the trained one, ``predict_logits`` included)."""
        return self._averaged.module

    def update(self, model) -> None:
        """Fold ``model``'s current weights into the average (after each optimiser step)."""
        self._averaged.update_parameters(model)

    def state_tensors(self) -> dict:
        """The average's weights and step count, flat, for a run's safetensors state."""
        tensors = {f"{STATE_PREFIX}{k}": v.detach().cpu().contiguous()
                   for k, v in self._averaged.state_dict().items()}
        return tensors

    def load_state(self, tensors: dict) -> None:
        """Resume from :meth:`state_tensors` (of a run with the same model)."""
        state = {k[len(STATE_PREFIX):]: v for k, v in tensors.items() if k.startswith(STATE_PREFIX)}
        self._averaged.load_state_dict(state, strict=True)
