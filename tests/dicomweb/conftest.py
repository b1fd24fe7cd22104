"""Fixtures of the DICOMweb tests: dicomweb-client clients on a live server, no volume builds."""

from typing import Any

import pytest
from dicomweb_client import DICOMwebClient

from annotator.accounts.models import User
from annotator.imaging.frames import layouts
from annotator.projects.models import Project
from tests.dicomweb.helpers import WebClient, dicomweb_path, token_for


@pytest.fixture(autouse=True)
def send_task(mocker: Any) -> Any:
    """Volume builds are queued on commit; no worker runs in these tests."""
    return mocker.patch("annotator.imaging.services.celery_app.send_task")


@pytest.fixture(autouse=True)
def _clear_pixel_layouts() -> None:
    """Every test starts with no cached pixel layouts (keys may repeat across databases)."""
    layouts.clear()


@pytest.fixture
def web_client(live_server: Any) -> WebClient:
    """Return a factory of dicomweb-client clients for a user and a project's DICOMweb root."""

    def make(user: User, project: Project) -> DICOMwebClient:
        # Django's development server cannot read chunked bodies: keep every body in one piece.
        return DICOMwebClient(
            url=live_server.url + dicomweb_path(project),
            headers={"Authorization": f"Token {token_for(user)}"},
            chunk_size=1 << 30,
        )

    return make
