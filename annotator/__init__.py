"""The Django project and the labeling domain."""

from annotator.celery import app as celery_app

__all__ = ["celery_app"]
