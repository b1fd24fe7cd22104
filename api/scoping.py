"""Base viewsets whose reads go through selectors scoped to the asking user."""

from typing import TypeVar

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404
from rest_framework import viewsets

from annotator.accounts.models import User
from annotator.projects.models import Project
from annotator.projects.selectors import list_projects_for_user
from api.auth import request_user

M = TypeVar("M", bound=Model)


class ScopedViewSet(viewsets.GenericViewSet[M]):
    """Reads go through a selector scoped to the user; schema generation gets an empty set."""

    def get_queryset(self) -> QuerySet[M]:
        if getattr(self, "swagger_fake_view", False):
            return super().get_queryset()  # each subclass sets queryset = Model.objects.none()
        return self.scoped_queryset(request_user(self.request))

    def scoped_queryset(self, user: User) -> QuerySet[M]:
        """Return what `user` may see."""
        raise NotImplementedError


class ProjectScopedViewSet(ScopedViewSet[M]):
    """A viewset under /projects/{project_pk}/: the project must be visible to the user."""

    def get_project(self) -> Project:
        """Return the project in the URL, or 404 if the user is not a member."""
        return get_object_or_404(
            list_projects_for_user(user=request_user(self.request)), pk=self.kwargs["project_pk"]
        )
