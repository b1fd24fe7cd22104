from django.apps import AppConfig


class JobsConfig(AppConfig):
    """Long-running work run by Celery workers, with progress the API shows."""

    name = "annotator.jobs"
    label = "jobs"
