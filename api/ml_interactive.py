"""Interactive segmentation over HTTP: a click or a box on a slice -> the region's mask.

``POST /api/v1/projects/{project_pk}/tasks/{pk}/segment-region/``

Nothing is stored: the browser paints the mask into the active segment as a stroke, and the
normal mask autosave stores it (so brush and eraser edit it like any stroke). The slice comes
back as one chunk of the mask wire format (api/labeling_masks.py): base64 of
``zlib(packbits(bool[rows, columns] row-major, bitorder="little"))``, "" for an empty region.
"""

import base64
from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.imaging.models import Stack
from annotator.labeling.mask_codec import BITORDER, ENCODING, encode_slice
from annotator.labeling.models import LabelingTask
from annotator.labeling.selectors import list_tasks_for_user
from annotator.projects.access import Action
from annotator.projects.selectors import list_projects_for_user
from api.auth import request_user
from api.permissions import require_action
from ml_assist.interactive import RegionOptions, segment_region


class SegmentRegionRequestSerializer(serializers.Serializer[Any]):
    """Where the reader clicked (or dragged a box) and how eagerly the region grows."""

    stack = serializers.IntegerField(help_text="Stack id (a stack of the task's series).")
    k = serializers.IntegerField(min_value=0, help_text="Slice index in the stack.")
    point = serializers.ListField(
        child=serializers.IntegerField(),
        min_length=2,
        max_length=2,
        required=False,
        help_text="[i, j]: column and row of the click.",
    )
    box = serializers.ListField(
        child=serializers.IntegerField(),
        min_length=4,
        max_length=4,
        required=False,
        help_text="[i0, j0, i1, j1]: opposite corners of the box (inclusive).",
    )
    multiplier = serializers.FloatField(
        min_value=0.5,
        max_value=6.0,
        default=RegionOptions.multiplier,
        help_text="Accepted intensity range in standard deviations of the region (wider grows "
        "further).",
    )
    smoothing = serializers.FloatField(
        min_value=0.0,
        max_value=5.0,
        default=RegionOptions.smoothing,
        help_text="Gaussian sigma in pixels before growing (0 = none).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("point" in attrs) == ("box" in attrs):
            raise serializers.ValidationError({"point": ["Give either a point or a box."]})
        return attrs


class SegmentRegionSerializer(serializers.Serializer[Any]):
    """The region on one slice, as one chunk of the mask wire format."""

    stack = serializers.IntegerField()
    k = serializers.IntegerField()
    shape = serializers.ListField(child=serializers.IntegerField(), help_text="[rows, columns]")
    encoding = serializers.CharField(help_text='"packbits-zlib", base64 in `chunk`.')
    bitorder = serializers.CharField()
    chunk = serializers.CharField(help_text="base64 of the chunk; empty for an empty region.")
    pixels = serializers.IntegerField()
    area_mm2 = serializers.FloatField()
    bbox = serializers.ListField(
        child=serializers.IntegerField(), allow_null=True, help_text="[i0, j0, i1, j1] or null."
    )


def _task_stack(task: LabelingTask, stack_id: int) -> Stack:
    """Return a stack of the task's series (or of its study, for a study task), else 404."""
    stacks = Stack.objects.filter(series__study_id=task.study_id).select_related("series")
    if task.series_id is not None:
        stacks = stacks.filter(series_id=task.series_id)
    return get_object_or_404(stacks, pk=stack_id)


@extend_schema(tags=["ml"])
class SegmentRegionView(APIView):
    """Segment the region under a click or inside a box on a slice of a task's stack."""

    @extend_schema(
        summary="Segment a region from a click or a box (interactive, not stored)",
        request=SegmentRegionRequestSerializer,
        responses={200: SegmentRegionSerializer},
    )
    def post(self, request: Request, project_pk: int, pk: int) -> Response:
        """Members who may annotate in the project; 404 for tasks of other projects."""
        user = request_user(request)
        project = get_object_or_404(list_projects_for_user(user=user), pk=project_pk)
        # No prefetching of readers: a click must stay cheap.
        tasks = list_tasks_for_user(user=user, project=project).prefetch_related(None)
        task = get_object_or_404(tasks, pk=pk)
        require_action(request, project, Action.ANNOTATE)
        payload = SegmentRegionRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        stack = _task_stack(task, data["stack"])
        result = segment_region(
            stack=stack,
            k=data["k"],
            point=tuple(data["point"]) if "point" in data else None,
            box=tuple(data["box"]) if "box" in data else None,
            options=RegionOptions(multiplier=data["multiplier"], smoothing=data["smoothing"]),
        )
        rows, columns = result.mask.shape
        body = {
            "stack": stack.pk,
            "k": data["k"],
            "shape": [rows, columns],
            "encoding": ENCODING,
            "bitorder": BITORDER,
            "chunk": base64.b64encode(encode_slice(result.mask)).decode("ascii"),
            "pixels": result.pixels,
            "area_mm2": round(result.area_mm2, 3),
            "bbox": list(result.bbox) if result.bbox else None,
        }
        return Response(SegmentRegionSerializer(body).data)


urlpatterns: list[URLPattern] = [
    path("tasks/<int:pk>/segment-region/", SegmentRegionView.as_view(), name="segment-region"),
]
