"""The models and devices the Segment dock offers, listed off the GUI thread.

Listing checkpoints reads their JSON configs and listing devices imports torch
and probes CUDA (seconds), so :func:`list_choices` runs in a napari worker and
the dock fills its boxes when the lists arrive.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The model box's entry for "the shipped model for this slide" (``model_choice.default_model``).
AUTOMATIC, AUTOMATIC_TEXT = "", "Automatic (shipped model for the slide)"


@dataclass(frozen=True)
class Choice:
    """One entry of a combo box: shown text, data (a path or name), tooltip."""

    text: str
    data: str
    tooltip: str = ""


@dataclass(frozen=True)
class Choices:
    """Installed checkpoints then registered architectures; devices in order of preference."""

    models: tuple[Choice, ...]
    devices: tuple[str, ...]


def list_choices() -> Choices:
    """What this machine offers (imports torch: call it from a worker thread)."""
    from napari_histoseg.models.catalog import checkpoint_folders, find_checkpoints
    from napari_histoseg.models.device import available_devices
    from napari_histoseg.models.registry import available_models

    entries = [entry for entry in find_checkpoints(checkpoint_folders()) if entry.usable]
    models = [Choice(entry.path.stem, str(entry.path), entry.summary) for entry in entries]
    automatic = Choice(AUTOMATIC_TEXT, AUTOMATIC, "The adopted model, else the shipped one for the "
                       "slide: real-tissue starter model, or the synthetic demo model")
    models.insert(1 if entries and entries[0].active else 0, automatic)
    models += [Choice(f"{name} (random weights)", name) for name in available_models()]
    return Choices(tuple(models), tuple(available_devices()))


def fill_boxes(model_box, device_box, choices: Choices) -> None:
    """Add the listed models and devices to two QComboBoxes, keeping what is chosen.

    Entries already there (a checkpoint chosen before the list arrived) are not repeated;
    devices go before the last entry, "cpu".
    """
    from qtpy.QtCore import Qt

    chosen = model_box.currentData()
    for choice in choices.models:
        if model_box.findData(choice.data) < 0:
            model_box.addItem(choice.text, choice.data)
            model_box.setItemData(model_box.count() - 1, choice.tooltip,
                                  Qt.ItemDataRole.ToolTipRole)
    if chosen is not None:
        model_box.setCurrentIndex(model_box.findData(chosen))
    for device in choices.devices:
        if device_box.findText(device) < 0:
            device_box.insertItem(device_box.count() - 1, device)
