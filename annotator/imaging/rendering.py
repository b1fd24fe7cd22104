"""Render requests: find a stack the user may see, pick the window, draw the slice."""

from dataclasses import dataclass
from typing import Any

import numpy as np

from annotator.accounts.models import User
from annotator.core.errors import DomainError, NotFoundError
from annotator.imaging.models import Stack
from annotator.imaging.render import (
    Plane,
    Window,
    encode,
    extract_slice,
    preset_window,
    render_slice,
    thumbnail,
)
from annotator.imaging.volume import load_volume
from annotator.projects.models import Membership


class RenderRequestError(DomainError):
    """A render parameter is out of range or malformed."""

    code = "invalid_render_request"


@dataclass(frozen=True)
class StackView:
    """What rendering needs of a stack, fetched with one query."""

    volume_path: str
    spacing: tuple[float, float, float]
    modality: str
    display: dict[str, Any]


def find_stack(*, user: User, project_id: int, series_id: int, index: int) -> StackView:
    """Return a built stack of a series the user may see.

    Raises:
        NotFoundError: no such stack in the user's projects, or its volume is not built yet.
    """
    stacks = Stack.objects.filter(series_id=series_id, series__project_id=project_id, index=index)
    if not (user.is_active and user.is_superuser):
        stacks = stacks.filter(
            series__project__in=Membership.objects.filter(user=user).values("project_id")
        )
    row = stacks.values_list(
        "volume_path", "spacing", "series__modality", "series__display"
    ).first()
    if row is None or not row[0]:
        raise NotFoundError("No such image, or it is still being prepared.")
    return StackView(row[0], tuple(row[1]), row[2], row[3] or {})


def header_windows(display: dict[str, Any]) -> list[Window]:
    """Return the windows the images carry in their headers."""
    return [
        Window(w["center"], w["width"], w.get("function", "LINEAR") or "LINEAR")
        for w in display.get("windows", [])
    ]


def choose_window(view: StackView, pixels: np.ndarray, window: str | None) -> Window:
    """Return the window asked for: a preset name, 'header', 'auto', or 'center,width'.

    Raises:
        RenderRequestError: an unknown preset or malformed numbers.
    """
    if window and "," in window:
        try:
            center, width = (float(v) for v in window.split(",")[:2])
        except ValueError as error:
            raise RenderRequestError("window must be 'center,width'.", field="window") from error
        try:
            return Window(center, width)
        except ValueError as error:
            raise RenderRequestError(str(error), field="window") from error
    try:
        return preset_window(
            view.modality,
            None if window in (None, "", "default") else window,
            header_windows(view.display),
            pixels,
        )
    except ValueError as error:
        raise RenderRequestError(str(error), field="window") from error


def render(
    view: StackView, *, plane: str, index: int, window: str | None, fmt: str, size: int | None
) -> bytes:
    """Return the encoded image of one slice.

    Raises:
        RenderRequestError: unknown plane or format, index out of range.
    """
    try:
        chosen_plane = Plane(plane)
    except ValueError as error:
        raise RenderRequestError(
            "plane must be axial, coronal or sagittal.", field="plane"
        ) from error
    if fmt not in ("png", "jpeg"):
        raise RenderRequestError("format must be png or jpeg.", field="format")
    volume = load_volume(view.volume_path)
    invert = view.display.get("photometric") == "MONOCHROME1"
    try:
        pixels = extract_slice(volume, chosen_plane, index)
        chosen = choose_window(view, pixels, window) if volume.ndim == 3 else None
        image = render_slice(
            volume, chosen_plane, index, chosen, spacing=view.spacing, invert=invert, max_size=size
        )
    except IndexError as error:
        raise RenderRequestError("The slice index is out of range.", field="index") from error
    return encode(image, fmt)


def render_thumbnail(view: StackView, *, size: int = 128) -> bytes:
    """Return a JPEG of the middle slice with the default window."""
    volume = load_volume(view.volume_path)
    middle = volume[volume.shape[0] // 2]
    window = choose_window(view, np.asarray(middle), None) if volume.ndim == 3 else None
    return thumbnail(volume, spacing=view.spacing, window=window, size=size)
