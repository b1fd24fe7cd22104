"""Factories for test data; projects are made through the service so they are complete."""

from typing import Any

import factory

from annotator.accounts.models import User
from annotator.projects.models import Modality, Project
from annotator.projects.services import create_project

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory[User]):
    """A user with the password PASSWORD."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.org")
    password = factory.django.Password(PASSWORD)


def make_project(*, owner: User, name: str = "Project", **kwargs: Any) -> Project:
    """Create a project the way the product does (owner as manager, schema version 1)."""
    kwargs.setdefault("modalities", [Modality.CT])
    return create_project(owner=owner, name=name, **kwargs)


CT_LABELS: list[dict[str, Any]] = [
    {
        "key": "nodule",
        "name": "Nodule",
        "kind": "mask",
        "scope": "series",
        "attributes": [
            {
                "key": "texture",
                "name": "Texture",
                "type": "enum",
                "options": [
                    {"value": "solid", "label": "Solid"},
                    {"value": "part_solid", "label": "Part solid"},
                    {"value": "ground_glass", "label": "Ground glass"},
                ],
            }
        ],
    },
    {
        "key": "quality",
        "name": "Image quality",
        "kind": "ordinal",
        "scope": "series",
        "options": [
            {"value": "1", "label": "Poor"},
            {"value": "2", "label": "Fair"},
            {"value": "3", "label": "Good"},
        ],
    },
]
