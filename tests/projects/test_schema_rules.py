"""Label schema validation and the breaking-change diff (pure functions, no database)."""

import copy
from typing import Any

import pytest

from annotator.projects.schema import SchemaValidationError, validate_labels
from annotator.projects.schema_changes import compare_schemas
from tests.factories import CT_LABELS

BIRADS: dict[str, Any] = {
    "key": "birads",
    "name": "BI-RADS",
    "kind": "ordinal",
    "scope": "study",
    "required": True,
    "options": [{"value": str(v), "label": f"BI-RADS {v}"} for v in range(7)],
}


def test_validate_labels_fills_defaults() -> None:
    [label] = validate_labels([{"key": "finding", "name": "Finding", "kind": "bounding_box"}])
    assert label["scope"] == "image"
    assert label["color"].startswith("#")
    assert (label["options"], label["attributes"]) == ([], [])
    assert label["required"] is False


def test_validate_labels_accepts_every_kind_with_its_scopes() -> None:
    labels = validate_labels(
        [
            *CT_LABELS,
            BIRADS,
            {"key": "len", "name": "Long axis", "kind": "length"},
            {"key": "recist", "name": "RECIST", "kind": "bidirectional"},
            {"key": "outline", "name": "Outline", "kind": "polygon"},
            {"key": "line", "name": "Catheter", "kind": "polyline"},
            {"key": "pt", "name": "Landmark", "kind": "point", "scope": "series"},
            {"key": "box3d", "name": "Box", "kind": "bounding_box", "scope": "series"},
            {
                "key": "multi",
                "name": "Findings",
                "kind": "classification_multi",
                "options": [{"value": "a", "label": "A"}, {"value": "b"}],
            },
            {"key": "note", "name": "Comment", "kind": "free_text"},
        ]
    )
    assert len(labels) == 11
    assert labels[-2]["options"][1] == {"value": "b", "label": "b"}


@pytest.mark.parametrize(
    ("label", "path"),
    [
        ({"key": "x", "name": "X", "kind": "triangle"}, "labels.0.kind"),
        ({"key": "X y", "name": "X", "kind": "point"}, "labels.0.key"),
        ({"key": "x", "name": "", "kind": "point"}, "labels.0.name"),
        ({"key": "x", "name": "X", "kind": "polygon", "scope": "study"}, "labels.0.scope"),
        (
            {"key": "x", "name": "X", "kind": "ordinal", "options": [{"value": "1"}]},
            "labels.0.options",
        ),
        ({"key": "x", "name": "X", "kind": "ordinal"}, "labels.0.options"),
        (
            {"key": "x", "name": "X", "kind": "mask", "options": [{"value": "1"}, {"value": "2"}]},
            "labels.0.options",
        ),
        ({"key": "x", "name": "X", "kind": "point", "color": "red"}, "labels.0.color"),
        ({"key": "x", "name": "X", "kind": "point", "required": "yes"}, "labels.0.required"),
        (
            {
                "key": "x",
                "name": "X",
                "kind": "point",
                "attributes": [{"key": "a", "name": "A", "type": "colour"}],
            },
            "labels.0.attributes.0.type",
        ),
        (
            {
                "key": "x",
                "name": "X",
                "kind": "point",
                "attributes": [{"key": "a", "name": "A", "type": "integer", "min": 5, "max": 1}],
            },
            "labels.0.attributes.0.max",
        ),
        (
            {
                "key": "x",
                "name": "X",
                "kind": "point",
                "attributes": [{"key": "a", "name": "A", "type": "enum"}],
            },
            "labels.0.attributes.0.options",
        ),
        (
            {
                "key": "x",
                "name": "X",
                "kind": "point",
                "attributes": [{"key": "a", "name": "A", "type": "text", "min": 1}],
            },
            "labels.0.attributes.0.min",
        ),
        (
            {
                "key": "x",
                "name": "X",
                "kind": "ordinal",
                "options": [{"value": "1"}, {"value": "1"}],
            },
            "labels.0.options.1.value",
        ),
    ],
)
def test_validate_labels_names_the_bad_field(label: dict[str, Any], path: str) -> None:
    with pytest.raises(SchemaValidationError) as raised:
        validate_labels([label])
    assert path in raised.value.errors


def test_validate_labels_rejects_duplicate_keys_and_names() -> None:
    with pytest.raises(SchemaValidationError) as raised:
        validate_labels(
            [
                {"key": "a", "name": "Nodule", "kind": "point"},
                {"key": "a", "name": "nodule", "kind": "point"},
            ]
        )
    assert set(raised.value.errors) == {"labels.1.key", "labels.1.name"}


def test_validate_labels_rejects_non_list() -> None:
    with pytest.raises(SchemaValidationError) as raised:
        validate_labels({"key": "a"})
    assert "labels" in raised.value.errors


def _changes(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, bool]:
    return {
        f"{c.label}:{c.change}": c.breaking
        for c in compare_schemas(validate_labels(old), validate_labels(new))
    }


def test_compare_schemas_identical_is_empty() -> None:
    assert _changes(CT_LABELS, copy.deepcopy(CT_LABELS)) == {}


def test_compare_schemas_cosmetic_changes_are_not_breaking() -> None:
    new = copy.deepcopy(CT_LABELS)
    new[0]["name"], new[0]["color"], new[0]["description"] = "Lung nodule", "#00ff00", "Any"
    new[0]["attributes"][0]["options"].append({"value": "calcified", "label": "Calcified"})
    new.append({"key": "comment", "name": "Comment", "kind": "free_text"})
    changes = _changes(CT_LABELS, new)
    assert changes
    assert not any(changes.values())


@pytest.mark.parametrize(
    "mutate",
    [
        lambda labels: labels.pop(0),
        lambda labels: labels[0].update(kind="bounding_box"),
        lambda labels: labels[0].update(scope="image"),
        lambda labels: labels[1]["options"].pop(),
        lambda labels: labels[1]["options"].append({"value": "4", "label": "Excellent"}),
        lambda labels: labels[1]["options"].reverse(),
        lambda labels: labels[0]["attributes"].clear(),
        lambda labels: labels[0]["attributes"][0].update(type="text", options=[]),
        lambda labels: labels[0]["attributes"][0].update(required=True),
        lambda labels: labels[0]["attributes"][0]["options"].pop(),
        lambda labels: labels[0].update(required=True),
        lambda labels: labels.append(
            {"key": "new", "name": "New", "kind": "point", "required": True}
        ),
    ],
    ids=[
        "label-removed",
        "kind",
        "scope",
        "ordinal-option-removed",
        "ordinal-option-added",
        "ordinal-reordered",
        "attribute-removed",
        "attribute-type",
        "attribute-required",
        "attribute-option-removed",
        "label-required",
        "required-label-added",
    ],
)
def test_compare_schemas_flags_breaking_changes(mutate: Any) -> None:
    new = copy.deepcopy(CT_LABELS)
    mutate(new)
    assert any(_changes(CT_LABELS, new).values())


def test_compare_schemas_numeric_range() -> None:
    old = [
        {
            "key": "x",
            "name": "X",
            "kind": "point",
            "attributes": [{"key": "size", "name": "Size", "type": "number", "min": 0, "max": 10}],
        }
    ]
    wider, narrower = copy.deepcopy(old), copy.deepcopy(old)
    wider[0]["attributes"][0]["max"] = 20
    narrower[0]["attributes"][0]["max"] = 5
    assert _changes(old, wider) == {"x:attribute 'size' range widened": False}
    assert _changes(old, narrower) == {"x:attribute 'size' range narrowed": True}
