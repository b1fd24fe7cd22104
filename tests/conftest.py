"""Fixtures shared by the whole suite."""

import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.jobs.worker import worker_argv
from annotator.projects.models import Project, Role
from annotator.projects.services import add_member
from tests.factories import UserFactory, make_project

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    """Throttle counters live in the cache; every test starts with none."""
    cache.clear()


@pytest.fixture
def user() -> User:
    return UserFactory.create()


@pytest.fixture
def manager() -> User:
    return UserFactory.create(username="manager")


@pytest.fixture
def project(manager: User) -> Project:
    return make_project(owner=manager, name="Chest CT")


@pytest.fixture
def member_of(project: Project, manager: User) -> Callable[[str], User]:
    """Return a function that adds a new user to `project` with a role."""

    def add(role: str) -> User:
        member = UserFactory.create()
        add_member(project=project, actor=manager, user=member, role=role)
        return member

    return add


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def client_for() -> Callable[[User], APIClient]:
    """Return an API client authenticated as the given user (session, CSRF not enforced)."""

    def make(who: User) -> APIClient:
        client = APIClient()
        client.force_authenticate(who)
        return client

    return make


@pytest.fixture
def annotator_user(member_of: Callable[[str], User]) -> User:
    return member_of(Role.ANNOTATOR)


# --- a real Celery worker -----------------------------------------------------------------


def _wait_for_worker(app: Any, name: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"Celery worker exited early:\n{log.read_text()[-4000:]}")
        if app.control.ping(destination=[name], timeout=1.0):
            return
    proc.terminate()
    raise RuntimeError(f"Celery worker did not answer in 90 s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def celery_worker(
    django_db_setup: None, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Start a real `celery worker` process on the default and gpu queues (Redis broker,
    the test database) and stop it before the test database is dropped."""
    from django.db import connection

    from annotator.celery import app

    with django_db_blocker.unblock():
        db_name = connection.settings_dict["NAME"]
    app.control.purge()
    name = f"tests-{uuid.uuid4().hex[:8]}@localhost"
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "TEST_WORKER_DATABASE_NAME": str(db_name),
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            worker_argv(name=name),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_worker(app, name, proc, log)
        yield name
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@receiver(connection_created)
def _allow_flush_of_audit_table(sender: Any, connection: Any, **kwargs: Any) -> None:
    """Let pytest-django empty the append-only audit table between transactional tests."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET annotator.allow_audit_truncate = 'on'")
