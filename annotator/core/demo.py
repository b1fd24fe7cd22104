"""Demo users and projects for `make run`; made through the services, so they are audited."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction

from annotator.accounts.models import User
from annotator.imaging.ingest import Ingestor
from annotator.imaging.models import Series
from annotator.imaging.volume import build_series_volumes
from annotator.projects.models import Membership, Modality, Project, Role
from annotator.projects.services import add_member, create_project


@dataclass(frozen=True)
class DemoUser:
    """Credentials of a demo account."""

    username: str
    password: str
    role: str
    superuser: bool = False


DEMO_USERS = [
    DemoUser("demo-manager", "demo-manager-pass", Role.MANAGER),
    DemoUser("demo-annotator", "demo-annotator-pass", Role.ANNOTATOR),
    DemoUser("demo-reviewer", "demo-reviewer-pass", Role.REVIEWER),
    DemoUser("demo-admin", "demo-admin-pass", "admin", superuser=True),
]


def _options(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"value": value, "label": label} for value, label in pairs]


BIRADS = _options(
    ("0", "0 - Incomplete"),
    ("1", "1 - Negative"),
    ("2", "2 - Benign"),
    ("3", "3 - Probably benign"),
    ("4", "4 - Suspicious"),
    ("5", "5 - Highly suggestive of malignancy"),
    ("6", "6 - Known malignancy"),
)

DEMO_PROJECTS: list[dict[str, Any]] = [
    {
        "name": "Chest CT - lung nodules",
        "description": "Segment and measure pulmonary nodules; grade image quality.",
        "modalities": [Modality.CT],
        "readers_per_item": 2,
        "review_required": True,
        "labels": [
            {
                "key": "nodule",
                "name": "Nodule",
                "kind": "mask",
                "scope": "series",
                "color": "#e6194b",
                "attributes": [
                    {
                        "key": "texture",
                        "name": "Texture",
                        "type": "enum",
                        "options": _options(
                            ("solid", "Solid"),
                            ("part_solid", "Part solid"),
                            ("ground_glass", "Ground glass"),
                        ),
                    },
                    {
                        "key": "lung_rads",
                        "name": "Lung-RADS",
                        "type": "enum",
                        "options": _options(
                            ("1", "1"),
                            ("2", "2"),
                            ("3", "3"),
                            ("4A", "4A"),
                            ("4B", "4B"),
                            ("4X", "4X"),
                        ),
                    },
                ],
            },
            {
                "key": "nodule_diameter",
                "name": "Nodule long axis",
                "kind": "length",
                "color": "#f58231",
            },
            {
                "key": "lungs",
                "name": "Lungs",
                "kind": "mask",
                "scope": "series",
                "color": "#4363d8",
            },
            {
                "key": "quality",
                "name": "Image quality",
                "kind": "ordinal",
                "scope": "series",
                "options": _options(("1", "Non-diagnostic"), ("2", "Limited"), ("3", "Good")),
            },
        ],
    },
    {
        "name": "Screening mammography",
        "description": "BI-RADS assessment, breast density and findings per study.",
        "modalities": [Modality.MG],
        "readers_per_item": 2,
        "review_required": True,
        "labels": [
            {
                "key": "birads",
                "name": "BI-RADS assessment",
                "kind": "ordinal",
                "scope": "study",
                "required": True,
                "options": BIRADS,
            },
            {
                "key": "density",
                "name": "Breast density",
                "kind": "ordinal",
                "scope": "study",
                "required": True,
                "options": _options(
                    ("A", "A - Almost entirely fatty"),
                    ("B", "B - Scattered fibroglandular"),
                    ("C", "C - Heterogeneously dense"),
                    ("D", "D - Extremely dense"),
                ),
            },
            {
                "key": "mass",
                "name": "Mass",
                "kind": "bounding_box",
                "color": "#e6194b",
                "attributes": [
                    {
                        "key": "shape",
                        "name": "Shape",
                        "type": "enum",
                        "options": _options(
                            ("oval", "Oval"), ("round", "Round"), ("irregular", "Irregular")
                        ),
                    },
                    {
                        "key": "suspicion",
                        "name": "Suspicion (%)",
                        "type": "integer",
                        "min": 0,
                        "max": 100,
                    },
                ],
            },
            {"key": "calcification", "name": "Calcification", "kind": "point", "color": "#ffe119"},
        ],
    },
    {
        "name": "Chest X-ray triage",
        "description": "Findings on frontal chest radiographs.",
        "modalities": [Modality.CR, Modality.DX],
        "readers_per_item": 1,
        "review_required": False,
        "labels": [
            {
                "key": "findings",
                "name": "Findings",
                "kind": "classification_multi",
                "scope": "image",
                "options": _options(
                    ("normal", "No finding"),
                    ("effusion", "Pleural effusion"),
                    ("pneumothorax", "Pneumothorax"),
                    ("consolidation", "Consolidation"),
                    ("cardiomegaly", "Cardiomegaly"),
                ),
            },
            {"key": "opacity", "name": "Opacity", "kind": "bounding_box", "color": "#3cb44b"},
            {"key": "tube_line", "name": "Tube / line", "kind": "polyline", "color": "#46f0f0"},
            {"key": "comment", "name": "Comment", "kind": "free_text", "scope": "study"},
        ],
    },
    {
        "name": "Thyroid ultrasound",
        "description": "Outline and measure thyroid nodules; TI-RADS per nodule.",
        "modalities": [Modality.US],
        "readers_per_item": 1,
        "review_required": True,
        "labels": [
            {
                "key": "thyroid_nodule",
                "name": "Thyroid nodule",
                "kind": "polygon",
                "color": "#911eb4",
                "attributes": [
                    {
                        "key": "tirads",
                        "name": "TI-RADS",
                        "type": "enum",
                        "options": _options(
                            ("TR1", "TR1"),
                            ("TR2", "TR2"),
                            ("TR3", "TR3"),
                            ("TR4", "TR4"),
                            ("TR5", "TR5"),
                        ),
                    }
                ],
            },
            {
                "key": "nodule_size",
                "name": "Nodule size",
                "kind": "bidirectional",
                "color": "#f032e6",
            },
        ],
    },
]


def ensure_demo_user(spec: DemoUser) -> tuple[User, bool]:
    """Return the demo user, creating it with its known password if missing."""
    user = User.objects.filter(username=spec.username).first()
    if user is not None:
        return user, False
    make = User.objects.create_superuser if spec.superuser else User.objects.create_user
    return make(
        username=spec.username, password=spec.password, email=f"{spec.username}@example.org"
    ), True


@transaction.atomic
def seed_demo() -> dict[str, int]:
    """Create the demo users and projects that are missing; a second run changes nothing."""
    users = {spec.username: ensure_demo_user(spec) for spec in DEMO_USERS}
    created_users = sum(created for _, created in users.values())
    manager = users["demo-manager"][0]
    created_projects = 0
    for spec in DEMO_PROJECTS:
        project = Project.objects.filter(owner=manager, name=spec["name"]).first()
        if project is None:
            project = create_project(owner=manager, **spec)
            created_projects += 1
        for username, role in (
            ("demo-annotator", Role.ANNOTATOR),
            ("demo-reviewer", Role.REVIEWER),
        ):
            member = users[username][0]
            if not Membership.objects.filter(project=project, user=member).exists():
                add_member(project=project, actor=manager, user=member, role=role)
    return {"users": created_users, "projects": created_projects}


# Which sample folders (annotator/imaging/samples.py) fill which demo project.
DEMO_IMAGES: dict[str, list[str]] = {
    "Chest CT - lung nodules": ["synthetic/ct-chest", "pydicom/CT_small.dcm"],
    "Screening mammography": ["synthetic/mammo-screening"],
    "Chest X-ray triage": ["synthetic/xray-chest"],
    "Thyroid ultrasound": ["synthetic/us-thyroid"],
}


def seed_demo_images(*, library: Path) -> dict[str, int]:
    """Ingest the sample library into demo projects that have no images yet, through the
    same path uploads take, and build their volumes; returns instances accepted per project."""
    manager = User.objects.get(username="demo-manager")
    accepted: dict[str, int] = {}
    for name, sources in DEMO_IMAGES.items():
        project = Project.objects.filter(owner=manager, name=name).first()
        if project is None or Series.objects.filter(project=project).exists():
            continue
        ingestor = Ingestor(project=project, actor=manager, source="demo")
        for source in sources:
            path = library / source
            for file in sorted(path.rglob("*.dcm")) if path.is_dir() else [path]:
                with file.open("rb") as fp:
                    ingestor.add(name=file.name, fp=fp, size=file.stat().st_size)
        ingestor.finish()
        for series in Series.objects.filter(pk__in=ingestor.touched):
            build_series_volumes(series)
        accepted[name] = ingestor.report.accepted
    return accepted
