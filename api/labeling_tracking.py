"""Lesion tracks across time points with their RECIST 1.1 evaluation.

Routes under /api/v1/projects/{project_pk}/.
"""

from dataclasses import asdict
from typing import Any

import django_filters
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotator.accounts.models import User
from annotator.imaging.selectors import list_studies
from annotator.labeling.models import Annotation, LesionMeasurement, LesionTrack
from annotator.labeling.recist import Response as RecistResponse
from annotator.labeling.selectors import (
    PatientRecist,
    evaluate_patient,
    get_annotation_for_user,
    list_measurements_for_user,
    list_patients_for_user,
    list_tracks_for_user,
)
from annotator.labeling.tracking import (
    MeasurementSaved,
    add_manual_measurement,
    add_measurement,
    create_track,
    delete_track,
    remove_measurement,
    update_track,
)
from annotator.projects.models import Project
from annotator.projects.selectors import list_projects_for_user
from api.accounts import UserRefSerializer
from api.auth import request_user
from api.exceptions import register_current_view
from api.scoping import ProjectScopedViewSet


def _project(request: Request, project_pk: int | str) -> Project:
    return get_object_or_404(list_projects_for_user(user=request_user(request)), pk=project_pk)


# --- lesion tracks ------------------------------------------------------------------------------


class LesionMeasurementSerializer(serializers.ModelSerializer[LesionMeasurement]):
    """A track's measurement at one time point (study)."""

    study_date = serializers.DateField(source="study.study_date", read_only=True, allow_null=True)
    created_by = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = LesionMeasurement
        fields = [
            "id",
            "study",
            "study_date",
            "annotation",
            "long_axis_mm",
            "short_axis_mm",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class LesionTrackSerializer(serializers.ModelSerializer[LesionTrack]):
    """One lesion of a pseudonymous patient with its measurements, oldest study first."""

    patient_pseudonym = serializers.CharField(source="patient.pseudonym", read_only=True)
    created_by = UserRefSerializer(read_only=True, allow_null=True)
    measurements = LesionMeasurementSerializer(many=True, read_only=True)

    class Meta:
        model = LesionTrack
        fields = [
            "id",
            "patient",
            "patient_pseudonym",
            "name",
            "nodal",
            "target",
            "version",
            "created_by",
            "created_at",
            "measurements",
        ]
        read_only_fields = fields


def _current_track(track: LesionTrack, request: Request) -> dict[str, Any]:
    """Show the stored track in a 409 as the track list shows it."""
    fresh = list_tracks_for_user(user=request_user(request), project=track.project).get(pk=track.pk)
    return dict(LesionTrackSerializer(fresh).data)


register_current_view(LesionTrack, _current_track)


class LesionTrackCreateSerializer(serializers.Serializer[Any]):
    """A new lesion of a patient of the project."""

    patient = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=100)
    nodal = serializers.BooleanField(default=False)
    target = serializers.BooleanField(default=True)


class LesionTrackUpdateSerializer(serializers.Serializer[Any]):
    """Changed fields plus the version the editor started from."""

    version = serializers.IntegerField(min_value=1)
    name = serializers.CharField(max_length=100, required=False)
    nodal = serializers.BooleanField(required=False)
    target = serializers.BooleanField(required=False)


class LesionTrackFilter(django_filters.FilterSet):
    """?patient= (patient id)."""

    patient = django_filters.NumberFilter(field_name="patient_id")

    class Meta:
        model = LesionTrack
        fields = ["patient"]


@extend_schema(tags=["lesion tracking"])
class LesionTrackViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    ProjectScopedViewSet[LesionTrack],
):
    """Lesion tracks of the project's patients; readers create, edit and delete them."""

    queryset = LesionTrack.objects.none()
    serializer_class = LesionTrackSerializer
    filterset_class = LesionTrackFilter

    def scoped_queryset(self, user: User) -> QuerySet[LesionTrack]:
        return list_tracks_for_user(user=user, project=self.get_project())

    def _fresh(self, track: LesionTrack) -> dict[str, Any]:
        return dict(self.get_serializer(self.get_queryset().get(pk=track.pk)).data)

    @extend_schema(request=LesionTrackCreateSerializer, responses={201: LesionTrackSerializer})
    def create(self, request: Request, project_pk: int) -> Response:
        project = self.get_project()
        payload = LesionTrackCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data, user = payload.validated_data, request_user(request)
        patient = list_patients_for_user(user=user, project=project).filter(pk=data["patient"])
        found = patient.first()
        if found is None:
            raise NotFound("No such patient in this project.")
        track = create_track(
            project=project,
            patient=found,
            actor=user,
            name=data["name"],
            nodal=data["nodal"],
            target=data["target"],
        )
        return Response(self._fresh(track), status=status.HTTP_201_CREATED)

    @extend_schema(request=LesionTrackUpdateSerializer, responses={200: LesionTrackSerializer})
    def partial_update(self, request: Request, project_pk: int, pk: int) -> Response:
        track = self.get_object()
        payload = LesionTrackUpdateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        changes = dict(payload.validated_data)
        expected = changes.pop("version")
        track = update_track(
            track=track, actor=request_user(request), expected_version=expected, **changes
        )
        return Response(self._fresh(track))

    @extend_schema(responses={204: None})
    def destroy(self, request: Request, project_pk: int, pk: int) -> Response:
        delete_track(track=self.get_object(), actor=request_user(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeasurementCreateSerializer(serializers.Serializer[Any]):
    """Either a length/bidirectional finding, or a study with diameters measured elsewhere."""

    annotation = serializers.IntegerField(min_value=1, required=False)
    study = serializers.IntegerField(min_value=1, required=False)
    long_axis_mm = serializers.FloatField(min_value=0, required=False)
    short_axis_mm = serializers.FloatField(min_value=0, required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        has_annotation, has_study = "annotation" in attrs, "study" in attrs
        if has_annotation == has_study:
            raise serializers.ValidationError(
                "Send either an annotation, or a study with long_axis_mm (and short_axis_mm)."
            )
        if has_annotation and ("long_axis_mm" in attrs or "short_axis_mm" in attrs):
            raise serializers.ValidationError(
                {"long_axis_mm": "Diameters come from the annotation; do not send them."}
            )
        if has_study and "long_axis_mm" not in attrs:
            raise serializers.ValidationError(
                {"long_axis_mm": "A manual measurement needs the long axis in mm."}
            )
        return attrs


@extend_schema(tags=["lesion tracking"])
class LesionMeasurementsView(APIView):
    """Add (or replace) a track's measurement at a time point."""

    @extend_schema(
        request=MeasurementCreateSerializer,
        responses={201: LesionMeasurementSerializer, 200: LesionMeasurementSerializer},
        description="201 for a new time point, 200 when it replaced that study's measurement.",
    )
    def post(self, request: Request, project_pk: int, pk: int) -> Response:
        user = request_user(request)
        project = _project(request, project_pk)
        track = get_object_or_404(list_tracks_for_user(user=user, project=project), pk=pk)
        payload = MeasurementCreateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        saved: MeasurementSaved
        if "annotation" in data:
            try:
                annotation = get_annotation_for_user(
                    user=user, project=project, annotation_id=data["annotation"]
                )
            except Annotation.DoesNotExist as error:
                raise NotFound("No such annotation.") from error
            saved = add_measurement(track=track, annotation=annotation, actor=user)
        else:
            study = get_object_or_404(list_studies(project=project), pk=data["study"])
            saved = add_manual_measurement(
                track=track,
                study=study,
                actor=user,
                long_axis_mm=data["long_axis_mm"],
                short_axis_mm=data.get("short_axis_mm"),
            )
        measurement = LesionMeasurement.objects.select_related("study", "created_by").get(
            pk=saved.measurement.pk
        )
        return Response(
            LesionMeasurementSerializer(measurement).data,
            status=status.HTTP_200_OK if saved.replaced else status.HTTP_201_CREATED,
        )


@extend_schema(tags=["lesion tracking"])
class LesionMeasurementView(APIView):
    """Remove one time point's measurement of a track."""

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_pk: int, pk: int, mid: int) -> Response:
        user = request_user(request)
        project = _project(request, project_pk)
        track = get_object_or_404(list_tracks_for_user(user=user, project=project), pk=pk)
        measurement = get_object_or_404(
            list_measurements_for_user(user=user, project=project).filter(track=track), pk=mid
        )
        remove_measurement(measurement=measurement, actor=user)
        return Response(status=status.HTTP_204_NO_CONTENT)


# --- RECIST -------------------------------------------------------------------------------------


class RecistLesionSerializer(serializers.Serializer[Any]):
    """A lesion at one time point; `counted_mm` is what it adds to the sum (targets only)."""

    track = serializers.IntegerField()
    name = serializers.CharField()
    nodal = serializers.BooleanField()
    target = serializers.BooleanField()
    long_axis_mm = serializers.FloatField(allow_null=True)
    short_axis_mm = serializers.FloatField(allow_null=True)
    counted_mm = serializers.FloatField(allow_null=True)


class RecistTimePointSerializer(serializers.Serializer[Any]):
    """One study: the sum of target diameters, its change, and the response category."""

    study = serializers.IntegerField()
    date = serializers.DateField(allow_null=True)
    baseline = serializers.BooleanField()
    lesions = RecistLesionSerializer(many=True)
    sum_mm = serializers.FloatField(allow_null=True)
    nadir_mm = serializers.FloatField(
        allow_null=True, help_text="Smallest sum at an earlier time point, baseline included."
    )
    change_from_baseline_mm = serializers.FloatField(allow_null=True)
    change_from_baseline_pct = serializers.FloatField(allow_null=True)
    change_from_nadir_mm = serializers.FloatField(allow_null=True)
    change_from_nadir_pct = serializers.FloatField(allow_null=True)
    response = serializers.ChoiceField(
        choices=[(r.value, r.value) for r in RecistResponse],
        allow_null=True,
        help_text="CR, PR, SD, PD or NE (not evaluable); null at the baseline.",
    )
    missing = serializers.ListField(
        child=serializers.IntegerField(), help_text="Target tracks without a usable measurement."
    )


class RecistSerializer(serializers.Serializer[Any]):
    """A patient's RECIST 1.1 target-lesion evaluation over time."""

    patient = serializers.IntegerField()
    patient_pseudonym = serializers.CharField()
    targets = serializers.ListField(child=serializers.IntegerField())
    non_targets = serializers.ListField(child=serializers.IntegerField())
    time_points = RecistTimePointSerializer(many=True)
    warnings = serializers.ListField(child=serializers.CharField())


def _recist_data(report: PatientRecist) -> dict[str, Any]:
    result = report.result
    return {
        "patient": report.patient.pk,
        "patient_pseudonym": report.patient.pseudonym,
        "targets": list(result.target_ids),
        "non_targets": list(result.non_target_ids),
        "time_points": [
            {
                **{k: v for k, v in asdict(point).items() if k not in ("study_id", "lesions")},
                "study": point.study_id,
                "response": point.response.value if point.response else None,
                "missing": list(point.missing),
                "lesions": [
                    {
                        **{k: v for k, v in asdict(row).items() if k != "track_id"},
                        "track": row.track_id,
                    }
                    for row in point.lesions
                ],
            }
            for point in result.time_points
        ],
        "warnings": list(result.warnings),
    }


@extend_schema(tags=["lesion tracking"])
class RecistView(APIView):
    """RECIST 1.1 for one patient: sums of diameters per study, change, response."""

    @extend_schema(responses={200: RecistSerializer})
    def get(self, request: Request, project_pk: int, patient_pk: int) -> Response:
        user = request_user(request)
        project = _project(request, project_pk)
        patient = get_object_or_404(
            list_patients_for_user(user=user, project=project), pk=patient_pk
        )
        report = evaluate_patient(user=user, project=project, patient=patient)
        return Response(RecistSerializer(_recist_data(report)).data)


tracks = LesionTrackViewSet.as_view({"get": "list", "post": "create"})
track = LesionTrackViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "delete": "destroy"}
)

urlpatterns: list[URLPattern] = [
    path("lesion-tracks/", tracks, name="lesion-tracks"),
    path("lesion-tracks/<int:pk>/", track, name="lesion-track"),
    path(
        "lesion-tracks/<int:pk>/measurements/",
        LesionMeasurementsView.as_view(),
        name="lesion-measurements",
    ),
    path(
        "lesion-tracks/<int:pk>/measurements/<int:mid>/",
        LesionMeasurementView.as_view(),
        name="lesion-measurement",
    ),
    path("patients/<int:patient_pk>/recist/", RecistView.as_view(), name="patient-recist"),
]
