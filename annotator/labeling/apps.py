from django.apps import AppConfig


class LabelingConfig(AppConfig):
    """Labeling tasks, reader assignments, annotations with revisions, review and tracking."""

    name = "annotator.labeling"
    label = "labeling"
