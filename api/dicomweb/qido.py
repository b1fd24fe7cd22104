"""QIDO-RS: search studies, series and instances of a project (PS3.18 10.6).

Answers come from database rows only (no file is opened), with a fixed number of queries
whatever the result size: counts are subqueries, modalities one extra query per page.

What the rows cannot say is returned empty: the database keeps no Patient's Name, Birth Date
or Sex, Study ID or Referring Physician. Patient ID is the project's pseudonym; when the
project de-identifies, the stored Patient's Name is that pseudonym too, so it is returned
(and matched) as such.
"""

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.db.models import Count, F, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpResponseBase
from rest_framework.request import Request

from annotator.imaging.dicomweb import (
    Level,
    Query,
    dicom_json,
    format_date,
    parse_query,
)
from annotator.imaging.models import ImagingSettings, Instance, Series, Study
from annotator.projects.models import Project
from api.dicomweb.base import DicomWebView, dicom_json_response, get_series, get_study
from api.dicomweb.matching import apply_matches, prefix_to
from api.dicomweb.negotiation import require_json
from api.dicomweb.wado import accept_ranges

MAX_RESULTS = 5000
MORE_RESULTS_WARNING = "299 annotator: There are additional results that can be requested"

REQUIRED: dict[Level, tuple[str, ...]] = {
    Level.STUDY: (
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ModalitiesInStudy",
        "ReferringPhysicianName",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyID",
        "NumberOfStudyRelatedSeries",
        "NumberOfStudyRelatedInstances",
        "RetrieveURL",
    ),
    Level.SERIES: (
        "Modality",
        "SeriesDescription",
        "SeriesNumber",
        "SeriesInstanceUID",
        "NumberOfSeriesRelatedInstances",
        "RetrieveURL",
        "StudyInstanceUID",
    ),
    Level.INSTANCE: (
        "SOPClassUID",
        "SOPInstanceUID",
        "InstanceNumber",
        "Rows",
        "Columns",
        "NumberOfFrames",
        "RetrieveURL",
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "Modality",
        "SeriesNumber",
    ),
}


def _count(model: type[Any], parent: str) -> Coalesce:
    counts = (
        model.objects.filter(**{parent: OuterRef("pk")})
        .order_by()
        .values(parent)
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)


def _study_values(study: Study, named: bool) -> dict[str, Any]:
    pseudonym = study.patient.pseudonym
    return {
        "StudyDate": format_date(study.study_date),
        "StudyTime": study.study_time,
        "AccessionNumber": study.accession_number,
        "ReferringPhysicianName": None,
        "PatientName": pseudonym if named else None,
        "PatientID": pseudonym,
        "PatientBirthDate": None,
        "PatientSex": None,
        "StudyInstanceUID": study.study_instance_uid,
        "StudyID": None,
        "StudyDescription": study.description,
    }


def _series_values(series: Series) -> dict[str, Any]:
    return {
        "Modality": series.modality,
        "SeriesDescription": series.description,
        "SeriesNumber": series.series_number,
        "SeriesInstanceUID": series.series_instance_uid,
        "BodyPartExamined": series.body_part,
        "Laterality": series.laterality,
        "FrameOfReferenceUID": series.frame_of_reference_uid,
    }


def _instance_values(instance: Instance) -> dict[str, Any]:
    geometry = instance.geometry or {}
    return {
        "SOPClassUID": instance.sop_class_uid,
        "SOPInstanceUID": instance.sop_instance_uid,
        "InstanceNumber": instance.instance_number,
        "Rows": instance.rows,
        "Columns": instance.columns,
        "NumberOfFrames": instance.number_of_frames,
        "AvailableTransferSyntaxUID": instance.transfer_syntax_uid,
        "ImagePositionPatient": geometry.get("position"),
        "ImageOrientationPatient": geometry.get("orientation"),
        "PixelSpacing": geometry.get("pixel_spacing"),
        "SliceThickness": geometry.get("slice_thickness"),
    }


def _select(values: dict[str, Any], level: Level, query: Query) -> dict[str, Any]:
    wanted = set(REQUIRED[level]) | query.include
    chosen = {k: v for k, v in values.items() if query.include_all or k in wanted}
    return dicom_json(chosen)


class SearchView(DicomWebView):
    """Shared QIDO-RS flow: parse, filter, page, serialize."""

    level: Level

    def search(
        self, request: Request, study: str | None = None, series: str | None = None
    ) -> HttpResponseBase:
        """Run the query of this request at this view's level, under the URL's study/series."""
        require_json(accept_ranges(request))
        params = [(k, v) for k, values in request.query_params.lists() for v in values]
        query = parse_query(params, self.level)
        project = self.get_project()
        if series is not None and study is not None:
            get_series(project, study, series)
        elif study is not None:
            get_study(project, study)
        named = (
            ImagingSettings.objects.filter(project=project)
            .values_list("deidentify", flat=True)
            .first()
        )
        serialize = self.serializer(project, named is not False)
        qs = apply_matches(self.queryset(project), self.level, query, project)
        if study is not None:
            qs = qs.filter(**{f"{prefix_to(self.level, Level.STUDY)}study_instance_uid": study})
        if series is not None:
            qs = qs.filter(series__series_instance_uid=series)
        limit = min(query.limit if query.limit is not None else MAX_RESULTS, MAX_RESULTS)
        rows = list(qs[query.offset : query.offset + limit + 1])
        warnings = list(query.warnings)
        if len(rows) > limit:
            rows = rows[:limit]
            warnings.append(MORE_RESULTS_WARNING)
        return dicom_json_response(serialize(rows, query), warnings=warnings)

    def queryset(self, project: Project) -> QuerySet[Any]:
        """Return this level's rows of the project, ordered, with what serialization needs."""
        raise NotImplementedError

    def serializer(
        self, project: Project, named: bool
    ) -> Callable[[list[Any], Query], list[dict[str, Any]]]:
        """Return a function turning a page of rows into DICOM JSON datasets."""
        raise NotImplementedError


class SearchStudiesView(SearchView):
    """GET /studies?…: QIDO-RS study search."""

    level = Level.STUDY

    def get(self, request: Request, project_pk: int) -> HttpResponseBase:
        return self.search(request)

    def queryset(self, project: Project) -> QuerySet[Study]:
        return (
            Study.objects.filter(project=project)
            .select_related("patient")
            .annotate(
                n_series=_count(Series, "study"), n_instances=_count(Instance, "series__study")
            )
            .order_by(F("study_date").desc(nulls_last=True), "-study_time", "pk")
        )

    def serializer(
        self, project: Project, named: bool
    ) -> Callable[[list[Any], Query], list[dict[str, Any]]]:
        base = self.studies_url(project)

        def serialize(rows: list[Study], query: Query) -> list[dict[str, Any]]:
            modalities: dict[int, set[str]] = defaultdict(set)
            if rows:
                pairs = (
                    Series.objects.filter(study__in=[s.pk for s in rows])
                    .values_list("study_id", "modality")
                    .distinct()
                )
                for study_id, modality in pairs:
                    modalities[study_id].add(modality)
            return [
                _select(
                    {
                        **_study_values(s, named),
                        "ModalitiesInStudy": sorted(modalities[s.pk]),
                        "NumberOfStudyRelatedSeries": s.n_series,  # type: ignore[attr-defined]
                        "NumberOfStudyRelatedInstances": s.n_instances,  # type: ignore[attr-defined]
                        "RetrieveURL": f"{base}/{s.study_instance_uid}",
                    },
                    Level.STUDY,
                    query,
                )
                for s in rows
            ]

        return serialize


class SearchSeriesView(SearchView):
    """GET /series or /studies/{study}/series: QIDO-RS series search."""

    level = Level.SERIES

    def get(self, request: Request, project_pk: int, study: str | None = None) -> HttpResponseBase:
        return self.search(request, study)

    def queryset(self, project: Project) -> QuerySet[Series]:
        return (
            Series.objects.filter(project=project)
            .select_related("study", "study__patient")
            .annotate(n_instances=_count(Instance, "series"))
            .order_by("study_id", F("series_number").asc(nulls_last=True), "pk")
        )

    def serializer(
        self, project: Project, named: bool
    ) -> Callable[[list[Any], Query], list[dict[str, Any]]]:
        base = self.studies_url(project)

        def serialize(rows: list[Series], query: Query) -> list[dict[str, Any]]:
            return [
                _select(
                    {
                        **_study_values(s.study, named),
                        **_series_values(s),
                        "NumberOfSeriesRelatedInstances": s.n_instances,  # type: ignore[attr-defined]
                        "RetrieveURL": f"{base}/{s.study.study_instance_uid}/series/"
                        f"{s.series_instance_uid}",
                    },
                    Level.SERIES,
                    query,
                )
                for s in rows
            ]

        return serialize


class SearchInstancesView(SearchView):
    """GET /instances, /studies/{study}/instances or …/series/{series}/instances."""

    level = Level.INSTANCE

    def get(
        self, request: Request, project_pk: int, study: str | None = None, series: str | None = None
    ) -> HttpResponseBase:
        return self.search(request, study, series)

    def queryset(self, project: Project) -> QuerySet[Instance]:
        return (
            Instance.objects.filter(project=project)
            .select_related("series", "series__study", "series__study__patient")
            .order_by(
                "series__study_id",
                F("series__series_number").asc(nulls_last=True),
                "series_id",
                F("instance_number").asc(nulls_last=True),
                "pk",
            )
        )

    def serializer(
        self, project: Project, named: bool
    ) -> Callable[[list[Any], Query], list[dict[str, Any]]]:
        base = self.studies_url(project)

        def serialize(rows: list[Instance], query: Query) -> list[dict[str, Any]]:
            return [
                _select(
                    {
                        **_study_values(i.series.study, named),
                        **_series_values(i.series),
                        **_instance_values(i),
                        "RetrieveURL": f"{base}/{i.series.study.study_instance_uid}/series/"
                        f"{i.series.series_instance_uid}/instances/"
                        f"{i.sop_instance_uid}",
                    },
                    Level.INSTANCE,
                    query,
                )
                for i in rows
            ]

        return serialize
