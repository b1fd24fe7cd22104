"""Modalities a project can hold and how each is displayed by default."""

from copy import deepcopy
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models


class Modality(models.TextChoices):
    """DICOM modality codes the product labels."""

    CT = "CT", "Computed tomography"
    MR = "MR", "Magnetic resonance"
    CR = "CR", "Computed radiography (X-ray)"
    DX = "DX", "Digital radiography (X-ray)"
    MG = "MG", "Mammography"
    US = "US", "Ultrasound"


def _preset(name: str, center: float, width: float) -> dict[str, Any]:
    return {"name": name, "center": center, "width": width}


# Window presets are the usual reading-room values (centre/width in the modality's units: HU
# for CT). "header" means: start from the image's own WindowCenter/Width or VOI LUT.
DISPLAY_DEFAULTS: dict[str, dict[str, Any]] = {
    Modality.CT: {
        "layout": "mpr",
        "initial_window": "Soft tissue",
        "window_presets": [
            _preset("Soft tissue", 40, 400),
            _preset("Lung", -600, 1500),
            _preset("Bone", 400, 1800),
            _preset("Brain", 40, 80),
            _preset("Abdomen", 40, 400),
            _preset("Liver", 60, 150),
            _preset("Mediastinum", 50, 350),
        ],
        "invert": False,
    },
    # MR intensities have no absolute scale: start from percentiles of the image itself.
    Modality.MR: {
        "layout": "mpr",
        "initial_window": "auto",
        "window_presets": [],
        "invert": False,
    },
    Modality.CR: {
        "layout": "stack",
        "initial_window": "header",
        "window_presets": [],
        "invert": False,
    },
    Modality.DX: {
        "layout": "stack",
        "initial_window": "header",
        "window_presets": [],
        "invert": False,
    },
    Modality.MG: {
        "layout": "mammo_2x2",
        "initial_window": "header",
        "window_presets": [],
        "invert": False,
        "hanging": [["R", "CC"], ["L", "CC"], ["R", "MLO"], ["L", "MLO"]],
    },
    Modality.US: {
        "layout": "cine",
        "initial_window": "header",
        "window_presets": [],
        "invert": False,
        "default_frame_rate": 30,
    },
}

_OVERRIDABLE = {"initial_window", "window_presets", "invert", "default_frame_rate"}


def validate_modalities(value: Any) -> None:
    """Accept a non-empty list of distinct known modality codes.

    Raises:
        ValidationError: the list is empty, repeats a code or names an unknown one.
    """
    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one modality.")
    unknown = [m for m in value if m not in Modality.values]
    if unknown:
        raise ValidationError(f"Unknown modality: {', '.join(map(str, unknown))}.")
    if len(set(value)) != len(value):
        raise ValidationError("A modality is listed twice.")


def _check_preset(preset: Any, where: str) -> None:
    if not isinstance(preset, dict) or not isinstance(preset.get("name"), str):
        raise ValidationError(f"{where}: a preset needs a name.")
    width = preset.get("width")
    if not isinstance(preset.get("center"), int | float) or not isinstance(width, int | float):
        raise ValidationError(f"{where}: center and width must be numbers.")
    if width <= 0:
        raise ValidationError(f"{where}: width must be positive.")


def validate_display_settings(value: Any) -> None:
    """Accept per-modality overrides of the display defaults.

    Raises:
        ValidationError: an unknown modality, setting or malformed window preset.
    """
    if not isinstance(value, dict):
        raise ValidationError("Display settings must be an object keyed by modality.")
    for modality, overrides in value.items():
        if modality not in Modality.values:
            raise ValidationError(f"Unknown modality: {modality}.")
        if not isinstance(overrides, dict):
            raise ValidationError(f"{modality}: settings must be an object.")
        unknown = set(overrides) - _OVERRIDABLE
        if unknown:
            raise ValidationError(f"{modality}: unknown setting {', '.join(sorted(unknown))}.")
        for i, preset in enumerate(overrides.get("window_presets", [])):
            _check_preset(preset, f"{modality}.window_presets.{i}")
        if "invert" in overrides and not isinstance(overrides["invert"], bool):
            raise ValidationError(f"{modality}: invert must be true or false.")


def effective_display(modalities: list[str], overrides: dict[str, Any]) -> dict[str, Any]:
    """Return the display settings per modality: defaults with the project's overrides on top."""
    result = {}
    for modality in modalities:
        settings = deepcopy(DISPLAY_DEFAULTS[modality])
        settings.update(deepcopy(overrides.get(modality, {})))
        result[modality] = settings
    return result
