from django.apps import AppConfig


class PacsConfig(AppConfig):
    """Remote PACS connections of a project, searched and pulled from."""

    name = "annotator.pacs"
    label = "pacs"
