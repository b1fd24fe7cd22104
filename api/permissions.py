"""DRF permission wrappers over annotator/projects/access.py."""

from rest_framework.request import Request

from annotator.projects.access import Action, require
from annotator.projects.models import Project
from api.auth import request_user


def require_action(request: Request, project: Project, action: Action) -> None:
    """Raise 404 for non-members and 403 for members whose role lacks `action`."""
    require(user=request_user(request), project=project, action=action)
