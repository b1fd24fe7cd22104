"""Lesion tracks across studies of one patient: services, RECIST evaluation and the API."""

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.audit.models import AuditEvent
from annotator.core.errors import NotFoundError, StaleVersionError
from annotator.imaging.models import Patient, Series, Stack
from annotator.imaging.synthetic import make_ct_series
from annotator.labeling.annotations import create_annotation, delete_annotation
from annotator.labeling.errors import (
    DuplicateTrackError,
    InvalidMeasurementError,
    InvalidTrackError,
)
from annotator.labeling.models import Annotation, LabelingTask, LesionMeasurement, LesionTrack
from annotator.labeling.selectors import evaluate_patient
from annotator.labeling.tracking import (
    add_manual_measurement,
    add_measurement,
    create_track,
    delete_track,
    remove_measurement,
    update_track,
)
from annotator.labeling.workflow import assign_reader
from annotator.projects.access import PermissionDeniedError
from annotator.projects.models import Project, Role
from tests.factories import make_project
from tests.imaging.dicom_files import to_bytes
from tests.labeling.conftest import LABELS, ingest_and_build

pytestmark = pytest.mark.django_db

# Pixel spacing of the synthetic CT: 0.8 mm in rows and columns.
MM = 0.8


def study_files(seed: str, study_date: str, patient_id: str = "PAT-1") -> list[tuple[str, bytes]]:
    """A 3-slice 32x32 CT study of `patient_id` taken on `study_date` (YYYYMMDD)."""
    datasets = make_ct_series(slices=3, size=32, nodules=0, uid_seed=seed, patient_id=patient_id)
    for ds in datasets:
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = ds.AcquisitionDate = study_date
    return [(f"{seed}/{ds.SOPInstanceUID}.dcm", to_bytes(ds)) for ds in datasets]


@pytest.fixture
def timeline(labeled_project: Project) -> list[Series]:
    """Baseline and two follow-ups of one patient, three months apart (oldest first)."""
    series = [
        ingest_and_build(labeled_project, study_files(f"tp{n}", day))[0]
        for n, day in enumerate(["20240105", "20240405", "20240705"])
    ]
    return sorted(series, key=lambda s: s.study.study_date)


@pytest.fixture
def patient(timeline: list[Series]) -> Patient:
    [found] = {s.study.patient for s in timeline}
    return found


@pytest.fixture
def other_patient_series(labeled_project: Project) -> Series:
    return ingest_and_build(labeled_project, study_files("other", "20240105", "PAT-2"))[0]


@pytest.fixture
def other_project_series(manager: User) -> Series:
    """A study of a patient with the same id in another project of the same manager."""
    other = make_project(owner=manager, name="Elsewhere", labels=LABELS)
    return ingest_and_build(other, study_files("elsewhere", "20240105"))[0]


def measure(
    series: Series, reader: User, manager: User, *, long_px: float, short_px: float | None = None
) -> Annotation:
    """Draw a length (or, with `short_px`, a bidirectional) finding on slice 1 of the series."""
    task = LabelingTask.objects.get(series=series)
    assignment = task.assignments.filter(reader=reader).first() or assign_reader(
        task=task, actor=manager, reader=reader
    )
    stack = Stack.objects.get(series=series, index=0)
    if short_px is None:
        label, data = "diameter", {"points": [[1, 16], [1 + long_px, 16]]}
    else:
        label, middle = "recist", 1 + long_px / 2
        data = {
            "long_axis": [[1, 16], [1 + long_px, 16]],
            "short_axis": [[middle, 16 - short_px / 2], [middle, 16 + short_px / 2]],
        }
    return create_annotation(
        annotation_set=assignment.annotation_set,
        actor=reader,
        label_key=label,
        data=data,
        stack=stack,
        slice_index=1,
    )


@pytest.fixture
def track(labeled_project: Project, patient: Patient, reader: User) -> LesionTrack:
    return create_track(project=labeled_project, patient=patient, actor=reader, name="Liver 1")


@pytest.fixture
def node(labeled_project: Project, patient: Patient, reader: User) -> LesionTrack:
    return create_track(
        project=labeled_project, patient=patient, actor=reader, name="Node 1", nodal=True
    )


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


# --- tracks ------------------------------------------------------------------------------------


def test_timeline_is_one_patient_at_three_dates(timeline: list[Series]) -> None:
    studies = [s.study for s in timeline]
    assert len({s.patient_id for s in studies}) == 1
    assert len({s.pk for s in studies}) == 3
    assert all(s.study_date is not None for s in studies)
    assert studies[0].study_date < studies[1].study_date < studies[2].study_date  # type: ignore[operator]


def test_create_track_stores_it_and_audits(
    labeled_project: Project, patient: Patient, reader: User
) -> None:
    track = create_track(
        project=labeled_project, patient=patient, actor=reader, name="  Lung 2 ", target=False
    )
    stored = LesionTrack.objects.get(pk=track.pk)
    assert (stored.name, stored.nodal, stored.target, stored.version) == ("Lung 2", False, False, 1)
    assert stored.created_by == reader
    [event] = events("lesion_track.create")
    assert event.object_id == str(track.pk)
    assert event.changes["name"] == [None, "Lung 2"]


def test_create_track_rejects_a_duplicate_name(track: LesionTrack, reader: User) -> None:
    with pytest.raises(DuplicateTrackError):
        create_track(project=track.project, patient=track.patient, actor=reader, name="Liver 1")
    assert LesionTrack.objects.count() == 1


def test_create_track_rejects_a_blank_name(
    labeled_project: Project, patient: Patient, reader: User
) -> None:
    with pytest.raises(InvalidTrackError):
        create_track(project=labeled_project, patient=patient, actor=reader, name="   ")
    assert not LesionTrack.objects.exists()


def test_create_track_rejects_a_patient_of_another_project(
    labeled_project: Project, other_project_series: Series, reader: User
) -> None:
    with pytest.raises(NotFoundError):
        create_track(
            project=labeled_project,
            patient=other_project_series.study.patient,
            actor=reader,
            name="X",
        )


def test_create_track_needs_the_annotate_right(
    labeled_project: Project, patient: Patient, member_of: Callable[[str], User]
) -> None:
    with pytest.raises(PermissionDeniedError):
        create_track(
            project=labeled_project, patient=patient, actor=member_of(Role.VIEWER), name="X"
        )


def test_update_track_changes_fields_bumps_version_and_audits(
    track: LesionTrack, reader: User
) -> None:
    updated = update_track(track=track, actor=reader, expected_version=1, name="Node 7", nodal=True)
    assert (updated.name, updated.nodal, updated.version) == ("Node 7", True, 2)
    [event] = events("lesion_track.update")
    assert event.changes == {"name": ["Liver 1", "Node 7"], "nodal": [False, True]}


def test_update_track_with_a_stale_version_changes_nothing(
    track: LesionTrack, reader: User
) -> None:
    update_track(track=track, actor=reader, expected_version=1, target=False)
    with pytest.raises(StaleVersionError) as caught:
        update_track(track=track, actor=reader, expected_version=1, name="Lost")
    assert caught.value.extra["current"].version == 2
    stored = LesionTrack.objects.get(pk=track.pk)
    assert (stored.name, stored.target, stored.version) == ("Liver 1", False, 2)


def test_update_track_rejects_the_name_of_another_track(
    track: LesionTrack, node: LesionTrack, reader: User
) -> None:
    with pytest.raises(DuplicateTrackError):
        update_track(track=node, actor=reader, expected_version=1, name="Liver 1")
    assert LesionTrack.objects.get(pk=node.pk).name == "Node 1"


def test_delete_track_removes_its_measurements(
    track: LesionTrack, timeline: list[Series], reader: User
) -> None:
    add_manual_measurement(track=track, study=timeline[0].study, actor=reader, long_axis_mm=12.0)
    delete_track(track=track, actor=reader)
    assert not LesionTrack.objects.exists()
    assert not LesionMeasurement.objects.exists()
    [event] = events("lesion_track.delete")
    assert event.changes["measurements"] == [1, None]


# --- measurements ------------------------------------------------------------------------------


def test_add_measurement_takes_the_server_computed_length(
    track: LesionTrack, timeline: list[Series], reader: User, manager: User
) -> None:
    finding = measure(timeline[0], reader, manager, long_px=10)
    saved = add_measurement(track=track, annotation=finding, actor=reader)
    assert saved.replaced is False
    stored = LesionMeasurement.objects.get(pk=saved.measurement.pk)
    assert stored.study_id == timeline[0].study_id
    assert stored.annotation_id == finding.pk
    assert stored.long_axis_mm == pytest.approx(10 * MM)
    assert stored.short_axis_mm is None
    [event] = events("lesion_measurement.add")
    assert event.changes["study"] == [None, timeline[0].study_id]


def test_add_measurement_takes_both_axes_of_a_bidirectional_finding(
    node: LesionTrack, timeline: list[Series], reader: User, manager: User
) -> None:
    finding = measure(timeline[1], reader, manager, long_px=12, short_px=6)
    stored = add_measurement(track=node, annotation=finding, actor=reader).measurement
    assert stored.long_axis_mm == pytest.approx(12 * MM)
    assert stored.short_axis_mm == pytest.approx(6 * MM)


def test_add_measurement_again_for_a_study_replaces_it_and_audits(
    track: LesionTrack, timeline: list[Series], reader: User, manager: User
) -> None:
    first = add_measurement(
        track=track, annotation=measure(timeline[0], reader, manager, long_px=10), actor=reader
    )
    again = add_measurement(
        track=track, annotation=measure(timeline[0], reader, manager, long_px=5), actor=reader
    )
    assert again.replaced is True
    assert again.measurement.pk == first.measurement.pk
    [stored] = LesionMeasurement.objects.filter(track=track)
    assert stored.long_axis_mm == pytest.approx(5 * MM)
    [event] = events("lesion_measurement.replace")
    assert event.changes["long_axis_mm"] == [pytest.approx(10 * MM), pytest.approx(5 * MM)]


def test_add_measurement_rejects_a_deleted_finding(
    track: LesionTrack, timeline: list[Series], reader: User, manager: User
) -> None:
    finding = measure(timeline[0], reader, manager, long_px=10)
    finding = delete_annotation(annotation=finding, actor=reader, expected_version=1)
    with pytest.raises(InvalidMeasurementError, match="deleted"):
        add_measurement(track=track, annotation=finding, actor=reader)
    assert not LesionMeasurement.objects.exists()


def test_add_measurement_rejects_a_finding_of_another_patient(
    track: LesionTrack, other_patient_series: Series, reader: User, manager: User
) -> None:
    finding = measure(other_patient_series, reader, manager, long_px=10)
    with pytest.raises(InvalidMeasurementError, match="another patient"):
        add_measurement(track=track, annotation=finding, actor=reader)
    assert not LesionMeasurement.objects.exists()


def test_add_measurement_rejects_a_finding_of_another_project(
    track: LesionTrack, other_project_series: Series, reader: User, manager: User
) -> None:
    theirs = measure(other_project_series, manager, manager, long_px=10)
    with pytest.raises(NotFoundError):
        add_measurement(track=track, annotation=theirs, actor=reader)
    assert not LesionMeasurement.objects.exists()


def test_add_measurement_rejects_a_finding_without_diameters(
    track: LesionTrack, timeline: list[Series], reader: User, manager: User
) -> None:
    task = LabelingTask.objects.get(series=timeline[0])
    assignment = assign_reader(task=task, actor=manager, reader=reader)
    marker = create_annotation(
        annotation_set=assignment.annotation_set,
        actor=reader,
        label_key="marker",
        data={"point": [3, 3]},
        stack=Stack.objects.get(series=timeline[0]),
        slice_index=0,
    )
    with pytest.raises(InvalidMeasurementError, match="point finding has no diameters"):
        add_measurement(track=track, annotation=marker, actor=reader)


def test_add_measurement_rejects_a_length_for_a_lymph_node(
    node: LesionTrack, timeline: list[Series], reader: User, manager: User
) -> None:
    finding = measure(timeline[0], reader, manager, long_px=10)
    with pytest.raises(InvalidMeasurementError, match="short axis"):
        add_measurement(track=node, annotation=finding, actor=reader)


def test_add_measurement_needs_the_annotate_right(
    track: LesionTrack,
    timeline: list[Series],
    reader: User,
    manager: User,
    member_of: Callable[[str], User],
) -> None:
    finding = measure(timeline[0], reader, manager, long_px=10)
    with pytest.raises(PermissionDeniedError):
        add_measurement(track=track, annotation=finding, actor=member_of(Role.VIEWER))


def test_add_manual_measurement_stores_diameters_measured_elsewhere(
    node: LesionTrack, timeline: list[Series], reader: User
) -> None:
    saved = add_manual_measurement(
        track=node, study=timeline[2].study, actor=reader, long_axis_mm=11.0, short_axis_mm=0.0
    )
    stored = LesionMeasurement.objects.get(pk=saved.measurement.pk)
    assert (stored.long_axis_mm, stored.short_axis_mm, stored.annotation_id) == (11.0, 0.0, None)


@pytest.mark.parametrize(
    ("long_axis", "short_axis", "message"),
    [
        (-1.0, None, "0 mm or more"),
        (float("nan"), None, "0 mm or more"),
        (5000.0, None, "larger than"),
        (10.0, 12.0, "cannot be longer"),
    ],
)
def test_add_manual_measurement_rejects_bad_diameters(
    track: LesionTrack,
    timeline: list[Series],
    reader: User,
    long_axis: float,
    short_axis: float | None,
    message: str,
) -> None:
    with pytest.raises(InvalidMeasurementError, match=message):
        add_manual_measurement(
            track=track,
            study=timeline[0].study,
            actor=reader,
            long_axis_mm=long_axis,
            short_axis_mm=short_axis,
        )
    assert not LesionMeasurement.objects.exists()


def test_add_manual_measurement_rejects_a_study_of_another_patient(
    track: LesionTrack, other_patient_series: Series, reader: User
) -> None:
    with pytest.raises(InvalidMeasurementError, match="another patient"):
        add_manual_measurement(
            track=track, study=other_patient_series.study, actor=reader, long_axis_mm=3.0
        )


def test_remove_measurement_deletes_it_and_audits(
    track: LesionTrack, timeline: list[Series], reader: User
) -> None:
    saved = add_manual_measurement(
        track=track, study=timeline[0].study, actor=reader, long_axis_mm=12.0
    )
    remove_measurement(measurement=saved.measurement, actor=reader)
    assert not LesionMeasurement.objects.exists()
    [event] = events("lesion_measurement.remove")
    assert event.changes["long_axis_mm"] == [12.0, None]


# --- RECIST over stored tracks -----------------------------------------------------------------


def test_evaluate_patient_orders_studies_by_date_and_classifies(
    track: LesionTrack,
    node: LesionTrack,
    timeline: list[Series],
    reader: User,
    manager: User,
    labeled_project: Project,
    patient: Patient,
) -> None:
    # entered out of order: the last follow-up first
    add_manual_measurement(track=track, study=timeline[2].study, actor=reader, long_axis_mm=30.0)
    add_measurement(
        track=track, annotation=measure(timeline[0], reader, manager, long_px=25), actor=reader
    )  # 20 mm
    add_measurement(
        track=node,
        annotation=measure(timeline[0], reader, manager, long_px=30, short_px=20),
        actor=reader,
    )  # short axis 16 mm: baseline sum 36 mm
    add_manual_measurement(track=track, study=timeline[1].study, actor=reader, long_axis_mm=10.0)
    add_manual_measurement(
        track=node, study=timeline[1].study, actor=reader, long_axis_mm=12.0, short_axis_mm=8.0
    )  # 18 mm: -50 % -> PR
    add_manual_measurement(
        track=node, study=timeline[2].study, actor=reader, long_axis_mm=12.0, short_axis_mm=8.0
    )  # 38 mm: +111 % over the nadir of 18 -> PD
    report = evaluate_patient(user=reader, project=labeled_project, patient=patient)
    points = report.result.time_points
    assert [p.study_id for p in points] == [s.study_id for s in timeline]
    assert [p.sum_mm for p in points] == [
        pytest.approx(36.0),
        pytest.approx(18.0),
        pytest.approx(38.0),
    ]
    assert [p.response for p in points] == [None, "PR", "PD"]
    assert points[2].nadir_mm == pytest.approx(18.0)
    assert report.result.warnings == ()


# --- API ---------------------------------------------------------------------------------------


def url(project: Project, rest: str) -> str:
    return f"/api/v1/projects/{project.pk}/{rest}"


@pytest.fixture
def as_reader(client_for: Callable[[User], APIClient], reader: User) -> APIClient:
    return client_for(reader)


def test_api_create_track(
    as_reader: APIClient, labeled_project: Project, patient: Patient, reader: User
) -> None:
    response = as_reader.post(
        url(labeled_project, "lesion-tracks/"),
        {"patient": patient.pk, "name": "Lung 1", "nodal": True},
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["name"] == "Lung 1"
    assert body["nodal"] is True
    assert body["target"] is True
    assert body["version"] == 1
    assert body["patient"] == patient.pk
    assert body["patient_pseudonym"] == patient.pseudonym
    assert body["created_by"]["id"] == reader.pk
    assert body["measurements"] == []


def test_api_create_track_of_another_projects_patient_is_404(
    as_reader: APIClient, labeled_project: Project, other_project_series: Series
) -> None:
    response = as_reader.post(
        url(labeled_project, "lesion-tracks/"),
        {"patient": other_project_series.study.patient_id, "name": "X"},
    )
    assert response.status_code == 404
    assert not LesionTrack.objects.exists()


def test_api_create_track_validation(
    as_reader: APIClient, labeled_project: Project, patient: Patient, track: LesionTrack
) -> None:
    blank = as_reader.post(url(labeled_project, "lesion-tracks/"), {"patient": patient.pk})
    assert blank.status_code == 400
    assert "name" in blank.json()["errors"]
    duplicate = as_reader.post(
        url(labeled_project, "lesion-tracks/"), {"patient": patient.pk, "name": "Liver 1"}
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "duplicate_lesion_track"


def test_api_viewer_may_read_but_not_create_tracks(
    client_for: Callable[[User], APIClient],
    member_of: Callable[[str], User],
    labeled_project: Project,
    track: LesionTrack,
) -> None:
    viewer = client_for(member_of(Role.VIEWER))
    assert viewer.get(url(labeled_project, "lesion-tracks/")).json()["count"] == 0  # blinded
    response = viewer.post(
        url(labeled_project, "lesion-tracks/"), {"patient": track.patient_id, "name": "Y"}
    )
    assert response.status_code == 403


def test_api_list_tracks_filters_by_patient_within_a_query_budget(
    as_reader: APIClient,
    labeled_project: Project,
    track: LesionTrack,
    node: LesionTrack,
    other_patient_series: Series,
    timeline: list[Series],
    reader: User,
    django_assert_max_num_queries: Any,
) -> None:
    create_track(
        project=labeled_project,
        patient=other_patient_series.study.patient,
        actor=reader,
        name="Other",
    )
    for series in timeline:
        for item in (track, node):
            add_manual_measurement(
                track=item, study=series.study, actor=reader, long_axis_mm=10, short_axis_mm=5
            )
    with django_assert_max_num_queries(8):
        response = as_reader.get(
            url(labeled_project, "lesion-tracks/"), {"patient": track.patient_id}
        )
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [t["name"] for t in body["results"]] == ["Liver 1", "Node 1"]
    dates = [m["study_date"] for m in body["results"][0]["measurements"]]
    assert len(dates) == 3
    assert dates == sorted(dates)


def test_api_track_of_another_project_is_404(
    client_for: Callable[[User], APIClient],
    manager: User,
    labeled_project: Project,
    other_project_series: Series,
    track: LesionTrack,
) -> None:
    other = other_project_series.project
    theirs = create_track(
        project=other, patient=other_project_series.study.patient, actor=manager, name="T"
    )
    client = client_for(manager)  # a member of both projects
    assert client.get(url(labeled_project, f"lesion-tracks/{theirs.pk}/")).status_code == 404
    assert client.get(url(other, f"lesion-tracks/{theirs.pk}/")).status_code == 200
    gone = client.delete(url(labeled_project, f"lesion-tracks/{theirs.pk}/"))
    assert gone.status_code == 404
    assert LesionTrack.objects.filter(pk=theirs.pk).exists()


def test_api_patch_track_and_stale_version_is_409(
    as_reader: APIClient, labeled_project: Project, track: LesionTrack
) -> None:
    path = url(labeled_project, f"lesion-tracks/{track.pk}/")
    ok = as_reader.patch(path, {"version": 1, "target": False})
    assert ok.status_code == 200
    assert ok.json()["target"] is False
    assert ok.json()["version"] == 2
    stale = as_reader.patch(path, {"version": 1, "name": "Lost"})
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    assert stale.json()["current"]["version"] == 2
    assert stale.json()["current"]["name"] == "Liver 1"
    assert LesionTrack.objects.get(pk=track.pk).name == "Liver 1"
    missing = as_reader.patch(path, {"name": "No version"})
    assert missing.status_code == 400
    assert "version" in missing.json()["errors"]


def test_api_delete_track(
    as_reader: APIClient, labeled_project: Project, track: LesionTrack
) -> None:
    response = as_reader.delete(url(labeled_project, f"lesion-tracks/{track.pk}/"))
    assert response.status_code == 204
    assert not LesionTrack.objects.exists()


def test_api_add_measurement_from_a_finding_then_replace_it(
    as_reader: APIClient,
    labeled_project: Project,
    track: LesionTrack,
    timeline: list[Series],
    reader: User,
    manager: User,
) -> None:
    path = url(labeled_project, f"lesion-tracks/{track.pk}/measurements/")
    first = measure(timeline[0], reader, manager, long_px=10)
    created = as_reader.post(path, {"annotation": first.pk})
    assert created.status_code == 201, created.json()
    assert created.json()["study"] == timeline[0].study_id
    assert created.json()["long_axis_mm"] == pytest.approx(8.0)
    assert created.json()["annotation"] == first.pk
    second = measure(timeline[0], reader, manager, long_px=15)
    replaced = as_reader.post(path, {"annotation": second.pk})
    assert replaced.status_code == 200
    assert replaced.json()["id"] == created.json()["id"]
    assert replaced.json()["long_axis_mm"] == pytest.approx(12.0)
    assert LesionMeasurement.objects.get().annotation_id == second.pk


def test_api_add_measurement_of_an_invisible_finding_is_404(
    client_for: Callable[[User], APIClient],
    member_of: Callable[[str], User],
    labeled_project: Project,
    track: LesionTrack,
    timeline: list[Series],
    reader: User,
    manager: User,
) -> None:
    # another reader's finding on an open task is hidden from this reader (blinding)
    finding = measure(timeline[0], reader, manager, long_px=10)
    someone_else = client_for(member_of(Role.ANNOTATOR))
    response = someone_else.post(
        url(labeled_project, f"lesion-tracks/{track.pk}/measurements/"),
        {"annotation": finding.pk},
    )
    assert response.status_code == 404
    assert not LesionMeasurement.objects.exists()


def test_api_add_measurement_of_another_projects_finding_is_404(
    as_reader: APIClient,
    labeled_project: Project,
    track: LesionTrack,
    other_project_series: Series,
    manager: User,
) -> None:
    theirs = measure(other_project_series, manager, manager, long_px=10)
    response = as_reader.post(
        url(labeled_project, f"lesion-tracks/{track.pk}/measurements/"),
        {"annotation": theirs.pk},
    )
    assert response.status_code == 404


def test_api_add_measurement_of_a_deleted_finding_is_400(
    as_reader: APIClient,
    labeled_project: Project,
    track: LesionTrack,
    timeline: list[Series],
    reader: User,
    manager: User,
) -> None:
    finding = measure(timeline[0], reader, manager, long_px=10)
    delete_annotation(annotation=finding, actor=reader, expected_version=1)
    response = as_reader.post(
        url(labeled_project, f"lesion-tracks/{track.pk}/measurements/"),
        {"annotation": finding.pk},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_measurement"
    assert "deleted" in response.json()["message"]


def test_api_add_manual_measurement(
    as_reader: APIClient, labeled_project: Project, node: LesionTrack, timeline: list[Series]
) -> None:
    response = as_reader.post(
        url(labeled_project, f"lesion-tracks/{node.pk}/measurements/"),
        {"study": timeline[1].study_id, "long_axis_mm": 14.5, "short_axis_mm": 9.5},
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["long_axis_mm"], body["short_axis_mm"], body["annotation"]) == (14.5, 9.5, None)
    assert body["study_date"] == timeline[1].study.study_date.isoformat()  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "non_field_errors"),
        ({"annotation": 1, "study": 1, "long_axis_mm": 3}, "non_field_errors"),
        ({"study": "STUDY"}, "long_axis_mm"),
        ({"study": "STUDY", "long_axis_mm": -2}, "long_axis_mm"),
        ({"study": "STUDY", "long_axis_mm": "wide"}, "long_axis_mm"),
        ({"study": "STUDY", "long_axis_mm": 5, "short_axis_mm": 9}, "short_axis_mm"),
        ({"annotation": 1, "long_axis_mm": 4}, "long_axis_mm"),
    ],
)
def test_api_add_measurement_validation(
    as_reader: APIClient,
    labeled_project: Project,
    track: LesionTrack,
    timeline: list[Series],
    payload: dict[str, Any],
    field: str,
) -> None:
    body = {k: timeline[0].study_id if v == "STUDY" else v for k, v in payload.items()}
    response = as_reader.post(
        url(labeled_project, f"lesion-tracks/{track.pk}/measurements/"), body, format="json"
    )
    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]
    assert not LesionMeasurement.objects.exists()


def test_api_add_manual_measurement_on_another_projects_study_is_404(
    as_reader: APIClient,
    labeled_project: Project,
    track: LesionTrack,
    other_project_series: Series,
) -> None:
    response = as_reader.post(
        url(labeled_project, f"lesion-tracks/{track.pk}/measurements/"),
        {"study": other_project_series.study_id, "long_axis_mm": 3},
    )
    assert response.status_code == 404


def test_api_add_manual_measurement_on_another_patients_study_is_400(
    as_reader: APIClient, labeled_project: Project, track: LesionTrack, other_patient_series: Series
) -> None:
    response = as_reader.post(
        url(labeled_project, f"lesion-tracks/{track.pk}/measurements/"),
        {"study": other_patient_series.study_id, "long_axis_mm": 3},
    )
    assert response.status_code == 400
    assert "another patient" in response.json()["message"]


def test_api_remove_measurement(
    as_reader: APIClient,
    labeled_project: Project,
    track: LesionTrack,
    node: LesionTrack,
    timeline: list[Series],
    reader: User,
) -> None:
    saved = add_manual_measurement(
        track=track, study=timeline[0].study, actor=reader, long_axis_mm=12.0
    )
    wrong_track = as_reader.delete(
        url(labeled_project, f"lesion-tracks/{node.pk}/measurements/{saved.measurement.pk}/")
    )
    assert wrong_track.status_code == 404
    response = as_reader.delete(
        url(labeled_project, f"lesion-tracks/{track.pk}/measurements/{saved.measurement.pk}/")
    )
    assert response.status_code == 204
    assert not LesionMeasurement.objects.exists()


def test_api_recist(
    as_reader: APIClient,
    labeled_project: Project,
    patient: Patient,
    track: LesionTrack,
    timeline: list[Series],
    reader: User,
) -> None:
    lung = create_track(
        project=labeled_project, patient=patient, actor=reader, name="Lung NT", target=False
    )
    for series, diameter in zip(timeline, [40.0, 30.0, 28.0], strict=True):
        add_manual_measurement(track=track, study=series.study, actor=reader, long_axis_mm=diameter)
    add_manual_measurement(track=lung, study=timeline[0].study, actor=reader, long_axis_mm=5.0)
    response = as_reader.get(url(labeled_project, f"patients/{patient.pk}/recist/"))
    assert response.status_code == 200
    body = response.json()
    assert body["patient"] == patient.pk
    assert body["targets"] == [track.pk]
    assert body["non_targets"] == [lung.pk]
    assert len(body["warnings"]) == 1
    points = body["time_points"]
    assert [p["study"] for p in points] == [s.study_id for s in timeline]
    assert [p["date"] for p in points] == [
        s.study.study_date.isoformat()  # type: ignore[union-attr]
        for s in timeline
    ]
    assert [p["baseline"] for p in points] == [True, False, False]
    assert [p["sum_mm"] for p in points] == [40.0, 30.0, 28.0]
    assert [p["response"] for p in points] == [None, "SD", "PR"]
    assert points[2]["change_from_baseline_pct"] == pytest.approx(-30.0)
    assert points[2]["change_from_nadir_pct"] == pytest.approx(-100 * 2 / 30)
    assert points[2]["nadir_mm"] == 30.0
    lesions = {row["track"]: row for row in points[0]["lesions"]}
    assert lesions[lung.pk]["long_axis_mm"] == 5.0
    assert lesions[lung.pk]["counted_mm"] is None
    assert lesions[track.pk]["counted_mm"] == 40.0
    later = {row["track"]: row for row in points[1]["lesions"]}
    assert later[lung.pk]["long_axis_mm"] is None  # the non-target was not measured again


def test_api_recist_of_another_projects_patient_is_404(
    client_for: Callable[[User], APIClient],
    labeled_project: Project,
    manager: User,
    other_project_series: Series,
) -> None:
    patient_id = other_project_series.study.patient_id
    client = client_for(manager)
    assert client.get(url(labeled_project, f"patients/{patient_id}/recist/")).status_code == 404
    assert (
        client.get(url(other_project_series.project, f"patients/{patient_id}/recist/")).status_code
        == 200
    )


def test_api_recist_of_a_non_member_is_404(
    client_for: Callable[[User], APIClient], user: User, labeled_project: Project, patient: Patient
) -> None:
    response = client_for(user).get(url(labeled_project, f"patients/{patient.pk}/recist/"))
    assert response.status_code == 404


def test_api_readers_do_not_see_measurements_of_other_readers_open_work(
    client_for: Callable[[User], APIClient],
    member_of: Callable[[str], User],
    labeled_project: Project,
    patient: Patient,
    track: LesionTrack,
    timeline: list[Series],
    reader: User,
    reviewer: User,
    manager: User,
) -> None:
    add_measurement(
        track=track, annotation=measure(timeline[0], reader, manager, long_px=10), actor=reader
    )
    add_manual_measurement(track=track, study=timeline[1].study, actor=reader, long_axis_mm=7.0)
    path = url(labeled_project, f"lesion-tracks/{track.pk}/")
    other_reader = client_for(member_of(Role.ANNOTATOR))
    assert other_reader.get(path).status_code == 404  # another reader's track is invisible
    assert other_reader.get(url(labeled_project, "lesion-tracks/")).json()["count"] == 0
    seen = client_for(reviewer).get(path).json()["measurements"]
    assert [m["study"] for m in seen] == [timeline[0].study_id, timeline[1].study_id]
    own = client_for(reader).get(path).json()["measurements"]
    assert len(own) == 2
    recist = other_reader.get(url(labeled_project, f"patients/{patient.pk}/recist/")).json()
    assert recist["time_points"] == []
    [linked] = LesionMeasurement.objects.filter(study=timeline[0].study)
    gone = other_reader.delete(
        url(labeled_project, f"lesion-tracks/{track.pk}/measurements/{linked.pk}/")
    )
    assert gone.status_code == 404
    assert LesionMeasurement.objects.filter(pk=linked.pk).exists()


def test_api_recist_runs_a_constant_number_of_queries(
    as_reader: APIClient,
    labeled_project: Project,
    patient: Patient,
    track: LesionTrack,
    node: LesionTrack,
    timeline: list[Series],
    reader: User,
    django_assert_max_num_queries: Any,
) -> None:
    for series in timeline:
        for item in (track, node):
            add_manual_measurement(
                track=item, study=series.study, actor=reader, long_axis_mm=10, short_axis_mm=5
            )
    with django_assert_max_num_queries(8):
        response = as_reader.get(url(labeled_project, f"patients/{patient.pk}/recist/"))
    assert response.status_code == 200
    assert len(response.json()["time_points"]) == 3
