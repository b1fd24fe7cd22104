"""The platform as a whole: API docs, production settings, the zero-setup mode, the app shell."""

import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from annotator.accounts.models import User
from annotator.audit.models import AuditEvent
from annotator.core.demo import seed_demo
from annotator.jobs.worker import worker_argv
from annotator.projects.models import Membership, Project

ROOT = Path(__file__).resolve().parents[2]
ENV_TO_DROP = (
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "REDIS_URL",
    "CELERY_RESULT_BACKEND",
    "DJANGO_SETTINGS_MODULE",
    "TEST_WORKER_DATABASE_NAME",
    "DJANGO_SECURE",
    "DJANGO_READ_DOT_ENV_FILE",
)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_TO_DROP}
    return {**env, "DJANGO_SETTINGS_MODULE": "annotator.settings", **extra}


def test_openapi_schema_generates_without_warnings(tmp_path: Path) -> None:
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )
    schema = (tmp_path / "schema.yaml").read_text()
    assert "/api/v1/projects/{project_pk}/schema/" in schema
    assert "tokenAuth" in schema


@pytest.mark.django_db
def test_schema_and_swagger_ui_are_served_without_cdn() -> None:
    client = Client()
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html
    assert "unpkg.com" not in html


def test_production_settings_pass_check_deploy(tmp_path: Path) -> None:
    env = _clean_env(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_DEBUG="false",
        DJANGO_ALLOWED_HOSTS="annotator.example.org",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        VAR_DIR=str(tmp_path),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_refuse_to_start_without_secret(tmp_path: Path) -> None:
    env = _clean_env(VAR_DIR=str(tmp_path))
    env.pop("DJANGO_SECRET_KEY", None)
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.worker
def test_zero_setup_mode_runs_a_job_on_sqlite_and_filesystem_broker(tmp_path: Path) -> None:
    """With no DATABASE_URL and no Redis, a real worker still runs jobs (`make run`'s mode)."""
    env = _clean_env(DJANGO_SECRET_KEY="zero-setup", DJANGO_DEBUG="true", VAR_DIR=str(tmp_path))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        timeout=180,
    )
    log = (tmp_path / "worker.log").open("wb")
    worker = subprocess.Popen(
        worker_argv(),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    script = textwrap.dedent("""
        import django, time
        django.setup()
        from django.conf import settings
        from annotator.accounts.models import User
        from annotator.jobs.models import Job
        from annotator.jobs.services import enqueue_job
        assert settings.CELERY_BROKER_URL == "filesystem://", settings.CELERY_BROKER_URL
        assert settings.DATABASES["default"]["ENGINE"].endswith("sqlite3")
        user = User.objects.create_user(username="solo", password="x")
        job = enqueue_job(kind="worker_check", created_by=user, queue="gpu")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            job.refresh_from_db()
            if job.state in ("succeeded", "failed"):
                break
            time.sleep(0.3)
        print(job.state, job.result and job.result["device"], job.error)
    """)
    try:
        result = subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["succeeded", "cpu"], (
        result.stdout + (tmp_path / "worker.log").read_text()[-3000:]
    )


@pytest.mark.django_db
def test_seed_demo_is_idempotent() -> None:
    first = seed_demo()
    events = AuditEvent.objects.count()
    second = seed_demo()
    assert first == {"users": 4, "projects": 4}
    assert second == {"users": 0, "projects": 0}
    assert AuditEvent.objects.count() == events
    manager = User.objects.get(username="demo-manager")
    assert manager.check_password("demo-manager-pass")
    assert Project.objects.filter(owner=manager).count() == 4
    assert Membership.objects.filter(user__username="demo-annotator").count() == 4
    assert User.objects.get(username="demo-admin").is_superuser


@pytest.mark.django_db
def test_browser_routes_serve_the_app_and_healthz_answers() -> None:
    client = Client()
    index = client.get("/projects/12")
    if not (ROOT / "frontend" / "dist" / "index.html").is_file():
        assert index.status_code == 503
    else:
        assert index.status_code == 200
        assert b'<div id="root"' in index.content
        assert "csrftoken" in index.cookies
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/api/v1/nope/").status_code == 404


def test_api_errors_share_one_format() -> None:
    response = Client().get("/api/v1/projects/")
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "message": "Authentication credentials were not provided.",
        "errors": {},
    }
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.django_db
def test_seed_demo_images_fills_each_demo_project_once(tmp_path: Path) -> None:
    from annotator.core.demo import seed_demo_images
    from annotator.imaging.models import Series, SeriesStatus
    from annotator.imaging.samples import build_sample_library

    seed_demo()
    build_sample_library(tmp_path, ct_slices=4)
    first = seed_demo_images(library=tmp_path)
    assert first == {
        "Chest CT - lung nodules": 5,
        "Screening mammography": 4,
        "Chest X-ray triage": 1,
        "Thyroid ultrasound": 1,
    }
    assert set(Series.objects.values_list("status", flat=True)) == {SeriesStatus.READY}
    # Every image series opened a labeling task, dealt to the demo annotator.
    from annotator.labeling.models import Assignment, LabelingTask

    image_series = Series.objects.filter(is_image=True).count()
    assert LabelingTask.objects.count() == image_series
    dealt = Assignment.objects.filter(reader__username="demo-annotator").count()
    assert dealt == image_series
    assert seed_demo_images(library=tmp_path) == {}
