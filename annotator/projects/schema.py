"""Label schema rules: pure functions over plain data (validation and breaking-change diff).

A schema is a list of label definitions:
    {"key": "birads", "name": "BI-RADS", "color": "#e6194b", "kind": "ordinal",
     "scope": "study", "description": "", "required": true,
     "options": [{"value": "0", "label": "Incomplete"}, ...],
     "attributes": [{"key": "suspicion", "name": "Suspicion", "type": "enum",
                     "options": [...], "min": null, "max": null, "required": false}]}
Keys are stable identifiers that annotations refer to; names and colours may change freely.
"""

import re
import zlib
from typing import Any

from django.db import models

from annotator.core.errors import DomainError


class LabelKind(models.TextChoices):
    """What an annotation of a label looks like."""

    CLASSIFICATION_SINGLE = "classification_single", "Classification (single choice)"
    CLASSIFICATION_MULTI = "classification_multi", "Classification (multiple choice)"
    ORDINAL = "ordinal", "Ordinal scale"
    BOUNDING_BOX = "bounding_box", "Bounding box"
    POLYGON = "polygon", "Polygon"
    POLYLINE = "polyline", "Polyline"
    POINT = "point", "Point"
    MASK = "mask", "Segmentation mask"
    LENGTH = "length", "Length measurement"
    BIDIRECTIONAL = "bidirectional", "Bidirectional measurement"
    FREE_TEXT = "free_text", "Free text"


class LabelScope(models.TextChoices):
    """What one annotation of a label is about."""

    STUDY = "study", "Study"
    SERIES = "series", "Series"
    IMAGE = "image", "Image / frame"


class AttributeType(models.TextChoices):
    """Value types of a label's attributes."""

    ENUM = "enum", "Single choice"
    MULTI_ENUM = "multi_enum", "Multiple choice"
    INTEGER = "integer", "Integer"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Yes / no"
    TEXT = "text", "Text"


ALL_SCOPES = (LabelScope.STUDY, LabelScope.SERIES, LabelScope.IMAGE)
# Series scope for a box, point or mask means a 3D object in the series' voxel space.
ALLOWED_SCOPES: dict[str, tuple[str, ...]] = {
    LabelKind.CLASSIFICATION_SINGLE: ALL_SCOPES,
    LabelKind.CLASSIFICATION_MULTI: ALL_SCOPES,
    LabelKind.ORDINAL: ALL_SCOPES,
    LabelKind.FREE_TEXT: ALL_SCOPES,
    LabelKind.BOUNDING_BOX: (LabelScope.SERIES, LabelScope.IMAGE),
    LabelKind.POINT: (LabelScope.SERIES, LabelScope.IMAGE),
    LabelKind.MASK: (LabelScope.SERIES, LabelScope.IMAGE),
    LabelKind.POLYGON: (LabelScope.IMAGE,),
    LabelKind.POLYLINE: (LabelScope.IMAGE,),
    LabelKind.LENGTH: (LabelScope.IMAGE,),
    LabelKind.BIDIRECTIONAL: (LabelScope.IMAGE,),
}
KINDS_WITH_OPTIONS = {
    LabelKind.CLASSIFICATION_SINGLE,
    LabelKind.CLASSIFICATION_MULTI,
    LabelKind.ORDINAL,
}
GEOMETRIC_KINDS = {
    LabelKind.BOUNDING_BOX,
    LabelKind.POLYGON,
    LabelKind.POLYLINE,
    LabelKind.POINT,
    LabelKind.MASK,
    LabelKind.LENGTH,
    LabelKind.BIDIRECTIONAL,
}
TYPES_WITH_OPTIONS = {AttributeType.ENUM, AttributeType.MULTI_ENUM}
NUMERIC_TYPES = {AttributeType.INTEGER, AttributeType.NUMBER}

PALETTE = [
    "#e6194b",
    "#3cb44b",
    "#ffe119",
    "#4363d8",
    "#f58231",
    "#911eb4",
    "#46f0f0",
    "#f032e6",
    "#bcf60c",
    "#fabebe",
    "#008080",
    "#e6beff",
    "#9a6324",
    "#800000",
]
MAX_LABELS = 200
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_OPTION_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,31}$")

FieldErrors = dict[str, list[str]]


class SchemaValidationError(DomainError):
    """A label schema broke a rule; `errors` maps dotted paths (labels.2.kind) to messages."""

    code = "validation_error"

    def __init__(self, errors: FieldErrors) -> None:
        first = next(iter(errors.items()))
        super().__init__(f"{first[0]}: {first[1][0]}", errors=errors)
        self.errors = errors


class _Collector:
    def __init__(self) -> None:
        self.errors: FieldErrors = {}

    def add(self, path: str, message: str) -> None:
        self.errors.setdefault(path, []).append(message)


def _text(
    item: dict[str, Any], name: str, path: str, errs: _Collector, *, required: bool, max_length: int
) -> str:
    value = item.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        errs.add(f"{path}.{name}", "Must be a string.")
        return ""
    value = value.strip()
    if required and not value:
        errs.add(f"{path}.{name}", "This field is required.")
    elif len(value) > max_length:
        errs.add(f"{path}.{name}", f"At most {max_length} characters.")
    return str(value)


def _bool(item: dict[str, Any], name: str, path: str, errs: _Collector) -> bool:
    value = item.get(name, False)
    if not isinstance(value, bool):
        errs.add(f"{path}.{name}", "Must be true or false.")
        return False
    return value


def _key(item: dict[str, Any], path: str, errs: _Collector, seen: set[str]) -> str:
    key = item.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        errs.add(f"{path}.key", "Use lowercase letters, digits and _ , starting with a letter.")
        return ""
    if key in seen:
        errs.add(f"{path}.key", f"The key '{key}' is used twice.")
    seen.add(key)
    return key


def _options(
    item: dict[str, Any], path: str, errs: _Collector, *, needed: bool, what: str
) -> list[dict[str, str]]:
    raw = item.get("options") or []
    if not isinstance(raw, list):
        errs.add(f"{path}.options", "Must be a list.")
        return []
    if not needed:
        if raw:
            errs.add(f"{path}.options", f"Options are only allowed for choice {what}s.")
        return []
    if len(raw) < 2:
        errs.add(f"{path}.options", "Give at least two options.")
    options, seen = [], set()
    for j, option in enumerate(raw):
        opath = f"{path}.options.{j}"
        if not isinstance(option, dict):
            errs.add(opath, "Must be an object with value and label.")
            continue
        value = option.get("value")
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not _OPTION_VALUE.match(value):
            errs.add(f"{opath}.value", "Use 1-32 letters, digits or _ . + - .")
            continue
        if value in seen:
            errs.add(f"{opath}.value", f"The value '{value}' is used twice.")
        seen.add(value)
        label = _text(option, "label", opath, errs, required=False, max_length=100) or value
        options.append({"value": value, "label": label})
    return options


def _number_or_none(item: dict[str, Any], name: str, path: str, errs: _Collector) -> float | None:
    value = item.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        errs.add(f"{path}.{name}", "Must be a number or null.")
        return None
    return value


def _attribute(raw: Any, path: str, errs: _Collector, seen: set[str]) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        errs.add(path, "Must be an object.")
        return None
    key = _key(raw, path, errs, seen)
    name = _text(raw, "name", path, errs, required=True, max_length=100)
    kind = raw.get("type")
    if kind not in AttributeType.values:
        errs.add(f"{path}.type", f"Choose one of: {', '.join(AttributeType.values)}.")
        return None
    options = _options(raw, path, errs, needed=kind in TYPES_WITH_OPTIONS, what="attribute")
    low = _number_or_none(raw, "min", path, errs)
    high = _number_or_none(raw, "max", path, errs)
    if (low is not None or high is not None) and kind not in NUMERIC_TYPES:
        errs.add(f"{path}.min", "Minimum and maximum apply to numeric attributes only.")
    if low is not None and high is not None and low > high:
        errs.add(f"{path}.max", "The maximum must not be below the minimum.")
    return {
        "key": key,
        "name": name,
        "type": kind,
        "options": options,
        "min": low,
        "max": high,
        "required": _bool(raw, "required", path, errs),
    }


def _label(raw: Any, index: int, errs: _Collector, seen: set[str]) -> dict[str, Any] | None:
    path = f"labels.{index}"
    if not isinstance(raw, dict):
        errs.add(path, "Must be an object.")
        return None
    key = _key(raw, path, errs, seen)
    name = _text(raw, "name", path, errs, required=True, max_length=100)
    # A default colour follows the key, not the position, so reordering changes no colour.
    color = raw.get("color") or PALETTE[zlib.crc32(key.encode()) % len(PALETTE)]
    if not isinstance(color, str) or not _COLOR.match(color):
        errs.add(f"{path}.color", "Use a colour like #1f77b4.")
    kind = raw.get("kind")
    if kind not in LabelKind.values:
        errs.add(f"{path}.kind", f"Choose one of: {', '.join(LabelKind.values)}.")
        return None
    scope = raw.get("scope") or ALLOWED_SCOPES[kind][-1]
    if scope not in ALLOWED_SCOPES[kind]:
        errs.add(
            f"{path}.scope", f"A {kind} label can have scope: {', '.join(ALLOWED_SCOPES[kind])}."
        )
    attributes_raw = raw.get("attributes") or []
    if not isinstance(attributes_raw, list):
        errs.add(f"{path}.attributes", "Must be a list.")
        attributes_raw = []
    attr_keys: set[str] = set()
    checked = [
        _attribute(a, f"{path}.attributes.{j}", errs, attr_keys)
        for j, a in enumerate(attributes_raw)
    ]
    attributes = [a for a in checked if a is not None]
    return {
        "key": key,
        "name": name,
        "color": str(color).lower(),
        "kind": kind,
        "scope": scope,
        "description": _text(raw, "description", path, errs, required=False, max_length=1000),
        "required": _bool(raw, "required", path, errs),
        "options": _options(raw, path, errs, needed=kind in KINDS_WITH_OPTIONS, what="label"),
        "attributes": attributes,
    }


def validate_labels(labels: Any) -> list[dict[str, Any]]:
    """Return the labels normalised (defaults filled in), or raise with every problem found.

    Raises:
        SchemaValidationError: with dotted paths such as labels.2.options.
    """
    errs = _Collector()
    if not isinstance(labels, list):
        raise SchemaValidationError({"labels": ["Must be a list of labels."]})
    if len(labels) > MAX_LABELS:
        raise SchemaValidationError({"labels": [f"At most {MAX_LABELS} labels."]})
    seen: set[str] = set()
    names: dict[str, int] = {}
    result = []
    for i, raw in enumerate(labels):
        label = _label(raw, i, errs, seen)
        if label is None:
            continue
        folded = label["name"].casefold()
        if folded and folded in names:
            errs.add(f"labels.{i}.name", f"The name is already used by label {names[folded]}.")
        names.setdefault(folded, i)
        result.append(label)
    if errs.errors:
        raise SchemaValidationError(errs.errors)
    return result
