"""Pseudonymous patients of a project with their studies (time points), for lesion tracking."""

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers

from annotator.accounts.models import User
from annotator.imaging.models import Patient, Study
from annotator.labeling.selectors import count_tracks_by_patient, list_patients_for_user
from api.auth import request_user
from api.scoping import ProjectScopedViewSet


class PatientStudySerializer(serializers.ModelSerializer[Study]):
    """A study of the patient: one time point."""

    class Meta:
        model = Study
        fields = ["id", "study_date", "description", "accession_number"]
        read_only_fields = fields


class PatientSerializer(serializers.ModelSerializer[Patient]):
    """A pseudonymous patient with their studies (oldest first) and the lesion tracks the user
    may see."""

    studies = PatientStudySerializer(many=True, read_only=True)
    track_count = serializers.SerializerMethodField()

    class Meta:
        model = Patient
        fields = ["id", "pseudonym", "studies", "track_count", "created_at"]
        read_only_fields = fields

    def get_track_count(self, patient: Patient) -> int:
        counts: dict[int, int] = self.context.get("track_counts", {})
        return counts.get(patient.pk, 0)


@extend_schema(tags=["labeling"])
class PatientViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, ProjectScopedViewSet[Patient]
):
    """The project's pseudonymous patients (?search= a pseudonym) and their time points."""

    queryset = Patient.objects.none()
    serializer_class = PatientSerializer

    def scoped_queryset(self, user: User) -> QuerySet[Patient]:
        query = list_patients_for_user(user=user, project=self.get_project()).prefetch_related(
            Prefetch("studies", queryset=Study.objects.order_by("study_date", "pk"))
        )
        search = self.request.query_params.get("search", "").strip()
        return (query.filter(pseudonym__icontains=search) if search else query).order_by(
            "pseudonym", "pk"
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = dict(super().get_serializer_context())
        if not getattr(self, "swagger_fake_view", False):
            context["track_counts"] = count_tracks_by_patient(
                user=request_user(self.request), project=self.get_project()
            )
        return context
