from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Project-wide pieces: request ids, errors, the app shell, management commands."""

    name = "annotator.core"
    label = "core"
