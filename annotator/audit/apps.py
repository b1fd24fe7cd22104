from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The append-only record of who did what."""

    name = "annotator.audit"
    label = "audit"
