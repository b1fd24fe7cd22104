"""Reads for jobs, scoped to the asking user."""

from django.db.models import Q, QuerySet

from annotator.accounts.models import User
from annotator.jobs.models import Job
from annotator.projects.access import Action, projects_where


def list_jobs_for_user(*, user: User) -> QuerySet[Job]:
    """Return jobs the user started, plus jobs of projects they manage."""
    jobs = Job.objects.select_related("project", "created_by")
    if user.is_superuser:
        return jobs
    return jobs.filter(
        Q(created_by=user) | Q(project__in=projects_where(user=user, action=Action.EDIT_PROJECT))
    )
