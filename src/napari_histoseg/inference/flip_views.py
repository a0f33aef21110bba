"""Class probabilities averaged over flipped views of the input (test-time augmentation).

A segmentation network's output is not exactly equivariant to flips; averaging
the softmax of the input as it is and flipped (and flipping each output back)
cancels part of that noise. The views are the flips of the (H, W) axes: 1 (none),
2 (also left-right) or 4 (also up-down, and both: a 180° turn). Each view costs
one forward pass. A checkpoint's model card names its number
(``card["test_time_flips"]``), chosen on its validation split; the user can ask
for fewer to go faster. Plain torch (``Tensor.flip``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

#: The flipped axes of each view (of a (B, C, H, W) tensor), by number of views.
VIEWS: dict[int, tuple[tuple[int, ...], ...]] = {
    1: ((),),
    2: ((), (-1,)),
    4: ((), (-1,), (-2,), (-2, -1)),
}
#: The model-card key naming a checkpoint's number of views.
CARD_KEY = "test_time_flips"


def check_views(views: int) -> int:
    """``views`` if it is a supported number of views; ValueError naming the choices otherwise."""
    if views not in VIEWS:
        raise ValueError(f"flip views must be one of {sorted(VIEWS)}, got {views!r}")
    return views


def views_of(card: dict | None, asked: int | None = None) -> int:
    """The number of views to run: ``asked`` if given, else what a checkpoint's model card
    names (1 when it names none); ValueError for an unsupported number."""
    return check_views(asked if asked is not None else int((card or {}).get(CARD_KEY, 1)))


def view_logits(predict_logits: Callable, x, views: int) -> Iterator:
    """Logits (B, C, H, W) of each flipped view of ``x`` (B, 3, H, W), flipped back."""
    for axes in VIEWS[check_views(views)]:
        logits = predict_logits(x.flip(axes) if axes else x)
        yield logits.flip(axes) if axes else logits


def averaged_probabilities(predict_logits: Callable, x, views: int,
                           check: Callable | None = None):
    """Softmax (B, C, H, W) float32 averaged over ``views`` flipped views of ``x``.

    ``check(logits)`` (if given) sees each view's logits first, e.g. to reject NaN.
    """
    import torch

    total = None
    for logits in view_logits(predict_logits, x, views):
        if check is not None:
            check(logits)
        probabilities = torch.softmax(logits.float(), dim=1)
        total = probabilities if total is None else total.add_(probabilities)
    return total.div_(views) if views > 1 else total
