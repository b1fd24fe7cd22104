from django.apps import AppConfig


class MlAssistConfig(AppConfig):
    """Model runners and the Celery tasks of the gpu queue."""

    name = "ml_assist"
    label = "ml_assist"
