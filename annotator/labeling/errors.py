"""Errors the labeling services raise (api/exceptions.py maps them to statuses)."""

from annotator.core.errors import ConflictError, DomainError


class InvalidAnnotationError(DomainError):
    """An annotation does not fit the label schema, its kind or the image it is drawn on."""

    code = "invalid_annotation"


class WorkflowError(ConflictError):
    """The task or assignment is not in a state that allows this step."""

    code = "workflow_conflict"


class NotAllowedError(DomainError):
    """The caller may see the object but may not change it in this way."""

    code = "permission_denied"


class ImportRejectedError(DomainError):
    """Imported labels cannot be placed on the series (geometry, format or labels)."""

    code = "import_rejected"
