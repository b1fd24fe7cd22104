from django.apps import AppConfig


class ImagingConfig(AppConfig):
    """DICOM hierarchy, ingest, de-identification, volumes and rendering."""

    name = "annotator.imaging"
    label = "imaging"

    def ready(self) -> None:
        """Stop pydicom from quoting invalid header values in warnings and logs (PHI)."""
        from pydicom import config

        config.settings.reading_validation_mode = config.IGNORE
