"""Optimistic concurrency: lock a row for an edit and check the version the editor saw."""

from typing import TypeVar

from django.db.models import Model, QuerySet

from annotator.core.errors import StaleVersionError

M = TypeVar("M", bound=Model)


def lock_version(queryset: QuerySet[M], *, pk: int, expected_version: int | None, what: str) -> M:
    """Return the row `pk` locked for update (call inside a transaction).

    Raises:
        StaleVersionError: `expected_version` (when given) is not the stored `version`; it
            carries the stored row, which the API shows in the 409.
    """
    locked = queryset.select_for_update().get(pk=pk)
    stored = getattr(locked, "version")  # noqa: B009 - every versioned model names it so
    if expected_version is not None and stored != expected_version:
        raise StaleVersionError(
            f"{what} was changed by someone else (version {expected_version} -> {stored}); "
            "reload it and apply your edit again.",
            current=locked,
        )
    return locked
