"""Vocabulary the browser app builds its forms from: modalities, label kinds, roles."""

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.projects.modalities import DISPLAY_DEFAULTS, Modality
from annotator.projects.models import Role
from annotator.projects.schema import (
    ALLOWED_SCOPES,
    GEOMETRIC_KINDS,
    KINDS_WITH_OPTIONS,
    TYPES_WITH_OPTIONS,
    AttributeType,
    LabelKind,
    LabelScope,
)


def build_meta() -> dict[str, Any]:
    """Return the product's fixed vocabularies."""
    return {
        "modalities": [
            {"code": m.value, "name": m.label, "display_defaults": DISPLAY_DEFAULTS[m]}
            for m in Modality
        ],
        "label_kinds": [
            {
                "code": k.value,
                "name": k.label,
                "allowed_scopes": list(ALLOWED_SCOPES[k]),
                "needs_options": k in KINDS_WITH_OPTIONS,
                "geometric": k in GEOMETRIC_KINDS,
            }
            for k in LabelKind
        ],
        "label_scopes": [{"code": s.value, "name": s.label} for s in LabelScope],
        "attribute_types": [
            {"code": t.value, "name": t.label, "needs_options": t in TYPES_WITH_OPTIONS}
            for t in AttributeType
        ],
        "roles": [{"code": r.value, "name": r.label} for r in Role],
    }


@extend_schema(tags=["meta"])
class MetaView(APIView):
    """The modalities, label kinds, scopes, attribute types and roles the product knows."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "Meta",
                {
                    "modalities": serializers.ListField(child=serializers.DictField()),
                    "label_kinds": serializers.ListField(child=serializers.DictField()),
                    "label_scopes": serializers.ListField(child=serializers.DictField()),
                    "attribute_types": serializers.ListField(child=serializers.DictField()),
                    "roles": serializers.ListField(child=serializers.DictField()),
                },
            )
        }
    )
    def get(self, request: Request) -> Response:
        return Response(build_meta())
