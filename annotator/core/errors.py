"""The base of every error a domain service raises (no HTTP knowledge here)."""

from typing import Any


class DomainError(Exception):
    """A business rule refused the operation; api/exceptions.py maps subclasses to statuses."""

    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra


class NotFoundError(DomainError):
    """An object the caller named does not exist (or is not theirs to see)."""

    code = "not_found"


class ConflictError(DomainError):
    """The operation would duplicate an object or overwrite a newer one."""

    code = "conflict"


class StaleVersionError(ConflictError):
    """The caller edited an old version; `current` carries what is stored now."""

    code = "stale_version"
