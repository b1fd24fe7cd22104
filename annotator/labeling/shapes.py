"""What an annotation's data may look like, per label kind and scope, and what the server
measures from it. Pure: plain data and a stack geometry in, normalized data and numbers out.

Coordinates are continuous voxel indices of the annotation's stack: i along columns, j along
rows, k along slices, pixel centres on integers. Image-scope findings carry 2D points (i, j)
and the slice index k on the annotation; series-scope boxes and points carry (i, j, k).

    classification_single, ordinal  {"value": "3"}
    classification_multi            {"values": ["nodule", "effusion"]}
    free_text                       {"text": "..."}
    bounding_box  image  {"min": [i, j], "max": [i, j]}     series  {"min": [i, j, k], "max": [...]}
    point         image  {"point": [i, j]}                  series  {"point": [i, j, k]}
    polygon              {"points": [[i, j], ...]}  (>= 3, closed implicitly)
    polyline             {"points": [[i, j], ...]}  (>= 2)
    length               {"points": [[i, j], [i, j]]}
    bidirectional        {"long_axis": [[i, j], [i, j]], "short_axis": [[i, j], [i, j]]}
    mask                 {"segments": [{"number": 1, "label": "organ", "attributes": {}}]}
"""

import math
from typing import Any

import numpy as np

from annotator.imaging.geometry import StackGeometry, index_to_lps
from annotator.labeling.errors import InvalidAnnotationError
from annotator.projects.schema import (
    ALLOWED_SCOPES,
    AttributeType,
    LabelKind,
    LabelScope,
)

MAX_POINTS = 10_000
MAX_TEXT = 10_000
MAX_SEGMENTS = 255
# Perpendicularity a bidirectional measurement must keep (RECIST: long and short axis at 90°).
MAX_AXIS_ANGLE_ERROR_DEG = 10.0
EDGE = 0.5  # a point may sit on the outer edge of the border pixels

Errors = dict[str, list[str]]


def _fail(path: str, message: str) -> InvalidAnnotationError:
    return InvalidAnnotationError(f"{path}: {message}", errors={path: [message]})


def _number(value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _fail(path, "Must be a finite number.")
    return float(value)


def _point(value: Any, path: str, dims: int, size: tuple[int, int, int] | None) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != dims:
        raise _fail(path, f"Must be a list of {dims} numbers.")
    point = [_number(v, f"{path}.{n}") for n, v in enumerate(value)]
    if size is not None:
        for axis, coordinate in enumerate(point):
            if not -EDGE <= coordinate <= size[axis] - 1 + EDGE:
                raise _fail(
                    f"{path}.{axis}",
                    f"{'ijk'[axis]}={coordinate:g} lies outside the image (0..{size[axis] - 1}).",
                )
    return point


def _points(
    value: Any, path: str, *, at_least: int, exactly: int | None = None, size: Any
) -> list[list[float]]:
    if not isinstance(value, list):
        raise _fail(path, "Must be a list of points.")
    if exactly is not None and len(value) != exactly:
        raise _fail(path, f"Must hold exactly {exactly} points.")
    if len(value) < at_least:
        raise _fail(path, f"Must hold at least {at_least} points.")
    if len(value) > MAX_POINTS:
        raise _fail(path, f"At most {MAX_POINTS} points.")
    return [_point(p, f"{path}.{n}", 2, size) for n, p in enumerate(value)]


def _only(data: dict[str, Any], keys: set[str]) -> None:
    extra = sorted(set(data) - keys)
    if extra:
        raise _fail(f"data.{extra[0]}", "Unknown field for this kind of label.")
    for key in sorted(keys):
        if key not in data:
            raise _fail(f"data.{key}", "This field is required.")


def validate_data(
    *,
    label: dict[str, Any],
    scope: str,
    data: Any,
    size: tuple[int, int, int] | None,
    labels_by_key: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return the normalized data of an annotation of `label`, or raise InvalidAnnotationError.

    `size` is the stack's (columns, rows, slices) for geometric kinds (None for study/series
    answers); coordinates outside it are refused.
    """
    kind = label["kind"]
    if not isinstance(data, dict):
        raise _fail("data", "Must be an object.")
    if scope not in ALLOWED_SCOPES[kind]:
        raise _fail("scope", f"A {kind} label cannot be used at {scope} scope.")
    plane = None if size is None else (size[0], size[1], size[2])
    values = {o["value"] for o in label.get("options") or []}
    if kind in (LabelKind.CLASSIFICATION_SINGLE, LabelKind.ORDINAL):
        _only(data, {"value"})
        if not isinstance(data["value"], str) or data["value"] not in values:
            raise _fail("data.value", f"Not an option of {label['key']}: {sorted(values)}.")
        return {"value": data["value"]}
    if kind == LabelKind.CLASSIFICATION_MULTI:
        _only(data, {"values"})
        chosen = data["values"]
        if not isinstance(chosen, list) or any(
            not isinstance(v, str) or v not in values for v in chosen
        ):
            raise _fail("data.values", f"Each value must be one of {sorted(values)}.")
        if len(set(chosen)) != len(chosen):
            raise _fail("data.values", "Each value at most once.")
        return {"values": list(chosen)}
    if kind == LabelKind.FREE_TEXT:
        _only(data, {"text"})
        text = data["text"]
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise _fail("data.text", f"Must be non-empty text of at most {MAX_TEXT} characters.")
        return {"text": text.strip()}
    if kind == LabelKind.MASK:
        return {"segments": _segments(data, labels_by_key or {label["key"]: label})}
    three_d = scope == LabelScope.SERIES
    dims = 3 if three_d else 2
    if kind == LabelKind.BOUNDING_BOX:
        _only(data, {"min", "max"})
        low = _point(data["min"], "data.min", dims, plane)
        high = _point(data["max"], "data.max", dims, plane)
        if any(h <= lo for lo, h in zip(low, high, strict=True)):
            raise _fail("data.max", "Each max coordinate must exceed its min coordinate.")
        return {"min": low, "max": high}
    if kind == LabelKind.POINT:
        _only(data, {"point"})
        return {"point": _point(data["point"], "data.point", dims, plane)}
    if kind in (LabelKind.POLYGON, LabelKind.POLYLINE):
        _only(data, {"points"})
        at_least = 3 if kind == LabelKind.POLYGON else 2
        return {"points": _points(data["points"], "data.points", at_least=at_least, size=plane)}
    if kind == LabelKind.LENGTH:
        _only(data, {"points"})
        points = _points(data["points"], "data.points", at_least=2, exactly=2, size=plane)
        if points[0] == points[1]:
            raise _fail("data.points", "The two end points must differ.")
        return {"points": points}
    if kind == LabelKind.BIDIRECTIONAL:
        _only(data, {"long_axis", "short_axis"})
        long_axis = _points(data["long_axis"], "data.long_axis", at_least=2, exactly=2, size=plane)
        short_axis = _points(
            data["short_axis"], "data.short_axis", at_least=2, exactly=2, size=plane
        )
        for name, axis in (("long_axis", long_axis), ("short_axis", short_axis)):
            if axis[0] == axis[1]:
                raise _fail(f"data.{name}", "The two end points must differ.")
        return {"long_axis": long_axis, "short_axis": short_axis}
    raise _fail("kind", f"Unknown label kind {kind}.")  # pragma: no cover - schema guards kinds


def _segments(data: dict[str, Any], labels_by_key: dict[str, dict[str, Any]]) -> list[Any]:
    _only(data, {"segments"})
    segments = data["segments"]
    if not isinstance(segments, list) or not 1 <= len(segments) <= MAX_SEGMENTS:
        raise _fail("data.segments", f"Must list 1 to {MAX_SEGMENTS} segments.")
    seen: set[int] = set()
    normalized = []
    for n, segment in enumerate(segments):
        path = f"data.segments.{n}"
        if not isinstance(segment, dict):
            raise _fail(path, "Must be an object.")
        extra = sorted(set(segment) - {"number", "label", "attributes"})
        if extra:
            raise _fail(f"{path}.{extra[0]}", "Unknown field.")
        number = segment.get("number")
        if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 255:
            raise _fail(f"{path}.number", "Must be an integer from 1 to 255.")
        if number in seen:
            raise _fail(f"{path}.number", "Segment numbers must be unique.")
        seen.add(number)
        key = segment.get("label", "")
        label = labels_by_key.get(key) if isinstance(key, str) else None
        if label is None or label["kind"] != LabelKind.MASK:
            masks = sorted(k for k, v in labels_by_key.items() if v["kind"] == LabelKind.MASK)
            raise _fail(f"{path}.label", f"Must be the key of a mask label: {masks}.")
        attributes = validate_attributes(
            label=label, attributes=segment.get("attributes") or {}, path=f"{path}.attributes"
        )
        normalized.append({"number": number, "label": label["key"], "attributes": attributes})
    return normalized


def validate_attributes(
    *, label: dict[str, Any], attributes: Any, path: str = "attributes"
) -> dict[str, Any]:
    """Return the attributes checked against the label's typed attribute definitions."""
    if not isinstance(attributes, dict):
        raise _fail(path, "Must be an object.")
    defined = {a["key"]: a for a in label.get("attributes") or []}
    extra = sorted(set(attributes) - set(defined))
    if extra:
        raise _fail(f"{path}.{extra[0]}", f"Not an attribute of {label['key']}.")
    result: dict[str, Any] = {}
    for key, spec in defined.items():
        value = attributes.get(key)
        where = f"{path}.{key}"
        if value is None or value == "" or value == []:
            if spec.get("required"):
                raise _fail(where, "This attribute is required.")
            continue
        result[key] = _attribute(spec, value, where)
    return result


def _attribute(spec: dict[str, Any], value: Any, where: str) -> Any:
    kind = spec["type"]
    options = {o["value"] for o in spec.get("options") or []}
    if kind == AttributeType.ENUM:
        if not isinstance(value, str) or value not in options:
            raise _fail(where, f"Must be one of {sorted(options)}.")
        return value
    if kind == AttributeType.MULTI_ENUM:
        if not isinstance(value, list) or any(
            not isinstance(v, str) or v not in options for v in value
        ):
            raise _fail(where, f"Must be a list of {sorted(options)}.")
        return list(dict.fromkeys(value))
    if kind == AttributeType.BOOLEAN:
        if not isinstance(value, bool):
            raise _fail(where, "Must be true or false.")
        return value
    if kind == AttributeType.TEXT:
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise _fail(where, f"Must be text of at most {MAX_TEXT} characters.")
        return value
    number = _number(value, where)
    if kind == AttributeType.INTEGER and not number.is_integer():
        raise _fail(where, "Must be a whole number.")
    low, high = spec.get("min"), spec.get("max")
    if (low is not None and number < low) or (high is not None and number > high):
        raise _fail(where, f"Must lie between {low} and {high}.")
    return int(number) if kind == AttributeType.INTEGER else number


# --- measurements (millimetres from the geometry; never trusted from the client) ------------


def _lps(geometry: StackGeometry, points: list[list[float]], k: float | None) -> np.ndarray:
    ijk = [[*p, k] if k is not None else p for p in points]
    return index_to_lps(geometry, np.asarray(ijk, dtype=float))


def _distance(geometry: StackGeometry, a: list[float], b: list[float], k: float | None) -> float:
    ends = _lps(geometry, [a, b], k)
    return float(np.linalg.norm(ends[1] - ends[0]))


def measure(
    *, kind: str, scope: str, data: dict[str, Any], geometry: StackGeometry | None, k: int | None
) -> dict[str, Any]:
    """Return what the server measures of a finding in mm (lengths, areas, LPS positions)."""
    if geometry is None:
        return {}
    result: dict[str, Any] = {}
    if kind == LabelKind.LENGTH:
        a, b = data["points"]
        result["length_mm"] = round(_distance(geometry, a, b, k), 3)
    elif kind == LabelKind.BIDIRECTIONAL:
        long_mm = _distance(geometry, data["long_axis"][0], data["long_axis"][1], k)
        short_mm = _distance(geometry, data["short_axis"][0], data["short_axis"][1], k)
        if short_mm > long_mm + 1e-6:
            raise _fail("data.short_axis", "The short axis is longer than the long axis.")
        long_vec = np.subtract(*_lps(geometry, data["long_axis"], k)[::-1])
        short_vec = np.subtract(*_lps(geometry, data["short_axis"], k)[::-1])
        cosine = abs(float(np.dot(long_vec, short_vec))) / (long_mm * short_mm or 1.0)
        angle = math.degrees(math.acos(min(1.0, cosine)))
        if abs(90.0 - angle) > MAX_AXIS_ANGLE_ERROR_DEG:
            raise _fail(
                "data.short_axis",
                f"The axes must be perpendicular (they meet at {angle:.0f} degrees).",
            )
        result.update(long_axis_mm=round(long_mm, 3), short_axis_mm=round(short_mm, 3))
    elif kind == LabelKind.POLYLINE:
        points = _lps(geometry, data["points"], k)
        result["length_mm"] = round(float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum()), 3)
    elif kind == LabelKind.POLYGON:
        points = _lps(geometry, data["points"], k)
        closed = np.vstack([points, points[:1]])
        result["perimeter_mm"] = round(
            float(np.linalg.norm(np.diff(closed, axis=0), axis=1).sum()), 3
        )
        # area of a planar polygon in 3D: half the norm of the summed cross products
        cross = np.cross(points, np.roll(points, -1, axis=0)).sum(axis=0)
        result["area_mm2"] = round(float(np.linalg.norm(cross)) / 2, 3)
    elif kind == LabelKind.BOUNDING_BOX:
        low, high = data["min"], data["max"]
        extent = [
            (h - lo) * s for lo, h, s in zip(low, high, geometry.spacing[: len(low)], strict=True)
        ]
        result["width_mm"], result["height_mm"] = round(extent[0], 3), round(extent[1], 3)
        if len(extent) == 3:
            result["depth_mm"] = round(extent[2], 3)
            result["volume_ml"] = round(extent[0] * extent[1] * extent[2] / 1000, 4)
        else:
            result["area_mm2"] = round(extent[0] * extent[1], 3)
    elif kind == LabelKind.POINT:
        result["lps_mm"] = [round(float(v), 3) for v in _lps(geometry, [data["point"]], k)[0]]
    return result
