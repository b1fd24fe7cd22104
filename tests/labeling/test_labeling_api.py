"""The labeling REST API end to end: worklist, next task, findings, 409, review, adjudication."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.labeling.models import Annotation, Assignment, LabelingTask
from annotator.projects.models import Project, Role
from tests.factories import UserFactory, make_project

pytestmark = pytest.mark.django_db
Client = Callable[[User], APIClient]


def _url(project: Project, path: str) -> str:
    return f"/api/v1/projects/{project.pk}/{path}"


def test_reader_flow_over_rest(
    client_for: Client,
    labeled_project: Project,
    task: LabelingTask,
    reader: User,
    reviewer: User,
    manager: User,
) -> None:
    labeled_project.review_required = True
    labeled_project.save()
    me = client_for(reader)
    claimed = me.post(_url(labeled_project, "tasks/next/"))
    assert claimed.status_code == 200, claimed.content
    slot = claimed.json()
    assert slot["task"] == task.pk
    assert slot["status"] == "assigned"
    worklist = me.get(_url(labeled_project, "tasks/?mine=true&status=new"))
    assert [t["id"] for t in worklist.json()["results"]] == [task.pk]
    assert worklist.json()["results"][0]["my_assignment"]["id"] == slot["id"]

    made = me.post(
        _url(labeled_project, f"annotation-sets/{slot['annotation_set']}/annotations/"),
        {"label_key": "diameter", "data": {"points": [[1, 1], [11, 1]]}, "slice_index": 2},
        format="json",
    )
    assert made.status_code == 201, made.content
    finding = made.json()
    assert finding["measurements"]["length_mm"] > 0
    assert finding["version"] == 1
    url = _url(labeled_project, f"annotations/{finding['id']}/")
    moved = me.patch(
        url, {"data": {"points": [[1, 1], [12, 1]]}}, format="json", HTTP_IF_MATCH='"1"'
    )
    assert moved.status_code == 200
    assert moved["ETag"] == '"2"'
    stale = me.patch(url, {"version": 1, "data": {"points": [[0, 0], [3, 3]]}}, format="json")
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    assert stale.json()["current"]["data"] == {"points": [[1.0, 1.0], [12.0, 1.0]]}
    missing = me.patch(url, {"data": {"points": [[0, 0], [3, 3]]}}, format="json")
    assert missing.status_code == 400
    assert "version" in missing.json()["message"]
    revisions = me.get(url + "revisions/").json()
    assert [r["number"] for r in revisions] == [1, 2]
    restored = me.post(url + "restore/", {"version": 2, "revision": 1}, format="json")
    assert restored.json()["data"]["points"][1] == [11.0, 1.0]
    assert (
        me.post(
            _url(labeled_project, f"tasks/{task.pk}/comments/"),
            {"text": "Borderline", "annotation": finding["id"]},
            format="json",
        ).status_code
        == 201
    )

    me.post(_url(labeled_project, f"assignments/{slot['id']}/heartbeat/"))
    submitted = me.post(_url(labeled_project, f"assignments/{slot['id']}/submit/"), {})
    assert submitted.json()["status"] == "submitted"
    assert me.get(_url(labeled_project, f"tasks/{task.pk}/")).json()["status"] == "in_review"

    boss = client_for(reviewer)
    rejected = boss.post(
        _url(labeled_project, f"assignments/{slot['id']}/review/"),
        {"decision": "reject", "comment": "Measure the long axis"},
        format="json",
    )
    assert rejected.json()["status"] == "returned"
    comments = me.get(_url(labeled_project, f"tasks/{task.pk}/comments/")).json()
    assert [c["kind"] for c in comments] == ["comment", "rejection"]
    assert (
        me.get(_url(labeled_project, f"assignments/{slot['id']}/")).json()["review_comment"]
        == "Measure the long axis"
    )
    me.post(_url(labeled_project, f"assignments/{slot['id']}/submit/"), {})
    accepted = boss.post(
        _url(labeled_project, f"assignments/{slot['id']}/review/"),
        {"decision": "accept"},
        format="json",
    )
    assert accepted.json()["status"] == "accepted"
    assert (
        client_for(manager).get(_url(labeled_project, f"tasks/{task.pk}/")).json()["status"]
        == "done"
    )


def test_bad_input_and_other_projects(
    client_for: Client, labeled_project: Project, assignment: Assignment, reader: User
) -> None:
    me = client_for(reader)
    set_url = _url(labeled_project, f"annotation-sets/{assignment.annotation_set.pk}/annotations/")
    bad = me.post(set_url, {"label_key": "quality", "data": {"value": "7"}}, format="json")
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid_annotation"
    assert "data.value" in bad.json()["errors"]
    assert not Annotation.objects.exists()

    stranger = UserFactory.create()
    other = make_project(owner=stranger, name="Other")
    assert client_for(stranger).get(_url(labeled_project, "tasks/")).status_code == 404
    assert client_for(stranger).post(set_url, {}, format="json").status_code == 404
    # ids of this project under another project's URL are not found
    mine_elsewhere = _url(other, f"annotation-sets/{assignment.annotation_set.pk}/")
    assert client_for(stranger).get(mine_elsewhere).status_code == 404
    assert me.post(_url(other, "tasks/next/")).status_code == 404


def test_blinding_over_rest_and_manager_actions(
    client_for: Client,
    labeled_project: Project,
    task: LabelingTask,
    manager: User,
    member_of: Callable[[str], User],
) -> None:
    boss = client_for(manager)
    assert (
        boss.patch(
            _url(labeled_project, f"tasks/{task.pk}/"),
            {"version": 1, "readers_required": 2},
            format="json",
        ).status_code
        == 200
    )
    one, two = member_of(Role.ANNOTATOR), member_of(Role.ANNOTATOR)
    made = boss.post(_url(labeled_project, f"tasks/{task.pk}/assignments/"), {"reader": one.pk})
    assert made.status_code == 201
    dealt = boss.post(_url(labeled_project, "tasks/distribute/"))
    assert dealt.json() == {"assigned": 1}
    again = boss.post(_url(labeled_project, f"tasks/{task.pk}/assignments/"), {"reader": two.pk})
    assert again.status_code == 409
    sets_for_one = client_for(one).get(_url(labeled_project, f"tasks/{task.pk}/sets/")).json()
    assert [s["reader"]["id"] for s in sets_for_one] == [one.pk]
    task_for_one = client_for(one).get(_url(labeled_project, f"tasks/{task.pk}/")).json()
    assert [a["reader"]["id"] for a in task_for_one["assignments"]] == [one.pk]
    assert len(boss.get(_url(labeled_project, f"tasks/{task.pk}/sets/")).json()) == 2
    stale = boss.patch(_url(labeled_project, f"tasks/{task.pk}/"), {"version": 1, "priority": 4})
    assert stale.status_code == 409
    assert stale.json()["current"]["readers_required"] == 2
    forbidden = client_for(one).patch(
        _url(labeled_project, f"tasks/{task.pk}/"), {"version": 2, "priority": 4}
    )
    assert forbidden.status_code == 403


def test_adjudication_over_rest(
    client_for: Client,
    labeled_project: Project,
    task: LabelingTask,
    manager: User,
    reviewer: User,
    member_of: Callable[[str], User],
) -> None:
    labeled_project.review_required = True
    labeled_project.readers_per_item = 2
    labeled_project.save()
    LabelingTask.objects.filter(pk=task.pk).update(readers_required=2)
    readers = [member_of(Role.ANNOTATOR) for _ in range(2)]
    for reader, value in zip(readers, ["1", "3"], strict=True):
        slot = client_for(reader).post(_url(labeled_project, "tasks/next/")).json()
        client_for(reader).post(
            _url(labeled_project, f"annotation-sets/{slot['annotation_set']}/annotations/"),
            {"label_key": "quality", "data": {"value": value}},
            format="json",
        )
        client_for(reader).post(_url(labeled_project, f"assignments/{slot['id']}/submit/"))
    boss = client_for(reviewer)
    first_set = boss.get(_url(labeled_project, f"tasks/{task.pk}/sets/")).json()[0]
    reference = boss.post(
        _url(labeled_project, f"tasks/{task.pk}/reference/"),
        {"from_set": first_set["id"]},
        format="json",
    )
    assert reference.status_code == 201, reference.content
    assert reference.json()["kind"] == "reference"
    assert reference.json()["annotations"][0]["data"] == first_set["annotations"][0]["data"]
    done = boss.post(_url(labeled_project, f"tasks/{task.pk}/reference/finalize/"))
    assert done.json()["status"] == "done"
    assert (
        client_for(readers[0])
        .post(_url(labeled_project, f"tasks/{task.pk}/reference/"))
        .status_code
        == 403
    )


def test_worklist_query_budget(
    client_for: Client,
    labeled_project: Project,
    manager: User,
    django_assert_max_num_queries: Callable[[int], object],
) -> None:
    from tests.imaging.dicom_files import ct_files
    from tests.labeling.conftest import ingest_and_build

    for seed in range(3):
        ingest_and_build(labeled_project, ct_files(slices=2, size=16, seed=seed + 10))
    boss = client_for(manager)
    with django_assert_max_num_queries(12):  # type: ignore[operator]
        response = boss.get(_url(labeled_project, "tasks/"))
    assert response.json()["count"] == 3


def test_project_settings_choose_task_unit_and_dealing(
    client_for: Client, labeled_project: Project, manager: User
) -> None:
    url = f"/api/v1/projects/{labeled_project.pk}/"
    boss = client_for(manager)
    current = boss.get(url).json()
    assert (current["task_unit"], current["auto_assign"]) == ("series", False)
    changed = boss.patch(
        url,
        {"version": current["version"], "task_unit": "study", "auto_assign": True},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    assert (changed.json()["task_unit"], changed.json()["auto_assign"]) == ("study", True)
    bad = boss.patch(url, {"version": changed.json()["version"], "task_unit": "frame"})
    assert bad.status_code == 400
    assert "task_unit" in bad.json()["errors"]


def test_stack_frames_list_the_images_in_slice_order(
    client_for: Client, labeled_project: Project, task: LabelingTask, reader: User
) -> None:
    from annotator.imaging.models import Instance, Stack

    stack = Stack.objects.get(series=task.series)
    url = f"/api/v1/projects/{labeled_project.pk}/series/{task.series_id}/stacks/0/frames/"
    body = client_for(reader).get(url).json()
    assert body["stack"] == stack.pk
    expected = list(
        Instance.objects.filter(stack=stack)
        .order_by("stack_position")
        .values_list("sop_instance_uid", flat=True)
    )
    assert [f["sop_instance_uid"] for f in body["frames"]] == expected
    assert [f["k"] for f in body["frames"]] == list(range(8))
    missing = f"/api/v1/projects/{labeled_project.pk}/series/{task.series_id}/stacks/5/frames/"
    assert client_for(reader).get(missing).status_code == 404
    stranger = UserFactory.create()
    assert client_for(stranger).get(url).status_code == 404


def test_patients_list_their_studies_and_only_my_tracks(
    client_for: Client, labeled_project: Project, task: LabelingTask, reader: User, reviewer: User
) -> None:
    from annotator.labeling.tracking import create_track

    patient = task.study.patient
    create_track(project=labeled_project, patient=patient, actor=reader, name="Liver 1")
    url = f"/api/v1/projects/{labeled_project.pk}/patients/"
    [row] = client_for(reader).get(url).json()["results"]
    assert row["pseudonym"] == patient.pseudonym
    assert [s["id"] for s in row["studies"]] == [task.study_id]
    assert row["track_count"] == 1
    other = client_for(reviewer).get(url + f"{patient.pk}/").json()
    assert other["track_count"] == 1  # reviewers see every reader's tracks
    from tests.factories import UserFactory as Users

    assert client_for(Users.create()).get(url).status_code == 404
    assert client_for(reader).get(url + "?search=zzz").json()["count"] == 0
