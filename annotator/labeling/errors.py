"""Errors the labeling services raise (api/exceptions.py maps them to statuses)."""

from annotator.core.errors import ConflictError, DomainError
from annotator.projects.access import PermissionDeniedError


class InvalidAnnotationError(DomainError):
    """An annotation does not fit the label schema, its kind or the image it is drawn on."""

    code = "invalid_annotation"


class WorkflowError(ConflictError):
    """The task or assignment is not in a state that allows this step."""

    code = "workflow_conflict"


class NotAllowedError(PermissionDeniedError):
    """The caller may see the object but may not change it in this way (403)."""


class ImportRejectedError(DomainError):
    """Imported labels cannot be placed on the series (geometry, format or labels)."""

    code = "import_rejected"


class InvalidTrackError(DomainError):
    """A lesion track's fields are not acceptable."""

    code = "invalid_lesion_track"


class DuplicateTrackError(ConflictError):
    """The patient already has a lesion track of that name."""

    code = "duplicate_lesion_track"


class InvalidMeasurementError(DomainError):
    """A measurement cannot be added to a track (wrong finding, patient or values)."""

    code = "invalid_measurement"
