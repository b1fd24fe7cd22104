from django.apps import AppConfig


class ProjectsConfig(AppConfig):
    """Projects, membership and roles, label schemas."""

    name = "annotator.projects"
    label = "projects"
