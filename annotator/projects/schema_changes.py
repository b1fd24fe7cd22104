"""What changed between two label schemas, and which changes break existing annotations."""

from dataclasses import dataclass
from typing import Any

from annotator.projects.schema import LabelKind


@dataclass(frozen=True)
class SchemaChange:
    """One difference between two schema versions."""

    label: str
    change: str
    breaking: bool


def _option_changes(
    key: str, what: str, old: list[dict[str, str]], new: list[dict[str, str]], *, ordered: bool
) -> list[SchemaChange]:
    old_values = [o["value"] for o in old]
    new_values = [o["value"] for o in new]
    changes = [
        SchemaChange(key, f"{what}: option '{v}' removed", True)
        for v in old_values
        if v not in new_values
    ]
    added = [v for v in new_values if v not in old_values]
    changes += [SchemaChange(key, f"{what}: option '{v}' added", ordered) for v in added]
    kept_new = [v for v in new_values if v in old_values]
    kept_old = [v for v in old_values if v in new_values]
    if ordered and kept_new != kept_old:
        changes.append(SchemaChange(key, f"{what}: options reordered", True))
    old_text = {o["value"]: o["label"] for o in old}
    changes += [
        SchemaChange(key, f"{what}: option '{o['value']}' renamed", False)
        for o in new
        if o["value"] in old_text and old_text[o["value"]] != o["label"]
    ]
    return changes


def _attribute_changes(
    key: str, old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> list[SchemaChange]:
    before = {a["key"]: a for a in old}
    after = {a["key"]: a for a in new}
    changes = [
        SchemaChange(key, f"attribute '{k}' removed", True) for k in before if k not in after
    ]
    for k, attr in after.items():
        prior = before.get(k)
        if prior is None:
            changes.append(SchemaChange(key, f"attribute '{k}' added", attr["required"]))
            continue
        if prior["type"] != attr["type"]:
            changes.append(SchemaChange(key, f"attribute '{k}' type changed", True))
            continue
        if attr["required"] and not prior["required"]:
            changes.append(SchemaChange(key, f"attribute '{k}' made required", True))
        elif prior["required"] != attr["required"]:
            changes.append(SchemaChange(key, f"attribute '{k}' made optional", False))
        if prior["name"] != attr["name"]:
            changes.append(SchemaChange(key, f"attribute '{k}' renamed", False))
        changes += _option_changes(
            key, f"attribute '{k}'", prior["options"], attr["options"], ordered=False
        )
        raised_min = attr["min"] is not None and (
            prior["min"] is None or attr["min"] > prior["min"]
        )
        lowered_max = attr["max"] is not None and (
            prior["max"] is None or attr["max"] < prior["max"]
        )
        narrowed = raised_min or lowered_max
        if narrowed:
            changes.append(SchemaChange(key, f"attribute '{k}' range narrowed", True))
        elif (prior["min"], prior["max"]) != (attr["min"], attr["max"]):
            changes.append(SchemaChange(key, f"attribute '{k}' range widened", False))
    return changes


def compare_schemas(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[SchemaChange]:
    """List what changed from `old` to `new` (both validated); breaking changes would change
    the meaning of annotations already made, so they need a new schema version."""
    before = {label["key"]: label for label in old}
    after = {label["key"]: label for label in new}
    changes = [SchemaChange(k, "label removed", True) for k in before if k not in after]
    for k, label in after.items():
        prior = before.get(k)
        if prior is None:
            changes.append(
                SchemaChange(
                    k,
                    "label added" + (" (required)" if label["required"] else ""),
                    label["required"],
                )
            )
            continue
        for field in ("kind", "scope"):
            if prior[field] != label[field]:
                changes.append(
                    SchemaChange(k, f"{field} changed from {prior[field]} to {label[field]}", True)
                )
        for field in ("name", "color", "description"):
            if prior[field] != label[field]:
                changes.append(SchemaChange(k, f"{field} changed", False))
        if label["required"] != prior["required"]:
            changes.append(
                SchemaChange(
                    k, "made required" if label["required"] else "made optional", label["required"]
                )
            )
        changes += _option_changes(
            k,
            "label",
            prior["options"],
            label["options"],
            ordered=label["kind"] == LabelKind.ORDINAL,
        )
        changes += _attribute_changes(k, prior["attributes"], label["attributes"])
    if [k for k in before if k in after] != [k for k in after if k in before]:
        changes.append(SchemaChange("", "labels reordered", False))
    return changes
