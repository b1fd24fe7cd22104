"""WADO-RS rendered resources and thumbnails: one frame as image/jpeg or image/png.

Query parameters (PS3.18 8.3.5.1): ``window=center,width[,linear|linear-exact|sigmoid]``
(default: the image's own first window, else the 0.5-99.5 percentile range), ``viewport=vw,vh``
(fit inside, aspect kept; further region values are ignored), ``quality=1..100`` (JPEG) and
``accept=`` in place of the Accept header. An instance's rendered resource is its first frame.
"""

from typing import IO

import numpy as np
import pydicom
from django.core.files.storage import default_storage
from django.http import HttpResponse
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels.processing import apply_color_lut, apply_modality_lut
from pydicom.pixels.utils import pixel_array
from rest_framework.request import Request

from annotator.imaging.dicom_pixels import FrameNotFoundError, NoPixelDataError
from annotator.imaging.dicomweb import QueryError, parse_frame_list
from annotator.imaging.models import Instance
from annotator.imaging.render import Window, apply_window, encode, percentile_window
from annotator.projects.models import Project
from api.dicomweb.base import DicomWebView, get_instance, get_series, get_study
from api.dicomweb.negotiation import choose_rendered
from api.dicomweb.wado import accept_ranges

THUMBNAIL_SIZE = 128
MAX_VIEWPORT = 4096
DEFAULT_QUALITY = 90
_FUNCTIONS = {"linear": "LINEAR", "linear-exact": "LINEAR_EXACT", "sigmoid": "SIGMOID"}


def parse_window(text: str | None) -> Window | None:
    """Parse `center,width[,function]`.

    Raises:
        QueryError: malformed numbers, an unknown function or a width the standard forbids.
    """
    if not text:
        return None
    parts = [p.strip() for p in text.split(",")]
    try:
        function = _FUNCTIONS[parts[2].lower()] if len(parts) > 2 else "LINEAR"
        return Window(float(parts[0]), float(parts[1]), function)
    except (IndexError, KeyError, ValueError) as error:
        raise QueryError(
            "window is center,width[,linear|linear-exact|sigmoid].", field="window"
        ) from error


def parse_viewport(text: str | None, default: int | None) -> tuple[int, int] | None:
    """Parse `vw,vh[,…]` into a bounding size.

    Raises:
        QueryError: not two integers within 1..4096.
    """
    if not text:
        return (default, default) if default else None
    try:
        width, height = (int(v) for v in text.split(",")[:2])
    except ValueError as error:
        raise QueryError("viewport is vw,vh.", field="viewport") from error
    if not (1 <= width <= MAX_VIEWPORT and 1 <= height <= MAX_VIEWPORT):
        raise QueryError(f"viewport sizes are 1..{MAX_VIEWPORT}.", field="viewport")
    return width, height


def _header_window(ds: Dataset) -> Window | None:
    center, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if center is None or width is None:
        return None
    first = [v[0] if isinstance(v, pydicom.multival.MultiValue) else v for v in (center, width)]
    try:
        return Window(
            float(first[0]), float(first[1]), str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR")
        )
    except (TypeError, ValueError):
        return None


def _to_uint8(values: np.ndarray, ds: Dataset) -> np.ndarray:
    if values.dtype == np.uint8:
        return values
    top = (
        float(2 ** int(ds.get("BitsStored") or 16) - 1)
        if values.dtype.kind in "iu"
        else float(values.max() or 1)
    )
    return np.clip(values.astype(np.float64) * (255.0 / top), 0, 255).astype(np.uint8)


def render_frame(
    fp: IO[bytes],
    number: int,
    *,
    window: Window | None,
    viewport: tuple[int, int] | None,
    fmt: str,
    quality: int,
) -> bytes:
    """Return frame `number` (1-based) of a stored file as an encoded 8-bit image.

    Raises:
        NoPixelDataError: the file has no pixel data.
        FrameNotFoundError: no such frame.
    """
    ds = pydicom.dcmread(fp)
    if "PixelData" not in ds:
        raise NoPixelDataError("This instance has no pixel data.")
    frames = int(ds.get("NumberOfFrames") or 1)
    if number > frames:
        raise FrameNotFoundError(f"This instance has {frames} frame(s).")
    pixels = pixel_array(ds, index=number - 1)
    photometric = str(ds.get("PhotometricInterpretation", ""))
    if photometric == "PALETTE COLOR":
        image = _to_uint8(apply_color_lut(pixels, ds), ds)
    elif pixels.ndim == 3:  # RGB (YBR is converted to RGB when decoded)
        image = _to_uint8(pixels, ds)
    else:
        values = apply_modality_lut(pixels, ds)
        chosen = window or _header_window(ds) or percentile_window(values)
        image = apply_window(values, chosen, invert=photometric == "MONOCHROME1")
    if viewport is not None:
        picture = Image.fromarray(np.ascontiguousarray(image))
        picture.thumbnail(viewport, Image.Resampling.BILINEAR)
        image = np.asarray(picture)
    return encode(image, fmt, quality)


def _quality(request: Request) -> int:
    raw = request.query_params.get("quality")
    if raw is None:
        return DEFAULT_QUALITY
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise QueryError("quality is 1..100.", field="quality")
    return int(raw)


def rendered_response(
    request: Request, instance: Instance, number: int, default_size: int | None = None
) -> HttpResponse:
    """Answer one rendered frame of `instance` in the negotiated image type."""
    fmt = choose_rendered(accept_ranges(request))
    window = parse_window(request.query_params.get("window"))
    viewport = parse_viewport(request.query_params.get("viewport"), default_size)
    with default_storage.open(instance.file.name or "", "rb") as fp:
        data = render_frame(
            fp, number, window=window, viewport=viewport, fmt=fmt, quality=_quality(request)
        )
    response = HttpResponse(data, content_type=f"image/{fmt}")
    response["Cache-Control"] = "private, max-age=300"
    return response


class RenderedView(DicomWebView):
    """GET …/instances/{i}/rendered or …/frames/{n}/rendered."""

    def get(
        self,
        request: Request,
        project_pk: int,
        study: str,
        series: str,
        instance: str,
        frames: str | None = None,
    ) -> HttpResponse:
        numbers = parse_frame_list(frames) if frames else [1]
        if len(numbers) != 1:
            raise QueryError("Render one frame at a time.", field="frames")
        found = get_instance(self.get_project(), study, series, instance)
        return rendered_response(request, found, numbers[0])


def _middle_image(project: Project, **filters: object) -> Instance:
    images = (
        Instance.objects.filter(project=project, is_image=True, **filters)
        .select_related("series")
        .order_by("series__series_number", "series_id", "stack_position", "instance_number", "pk")
    )
    series_id = images.values_list("series_id", flat=True).first()
    if series_id is None:
        raise NoPixelDataError("Nothing here has pixel data.")
    in_series = images.filter(series_id=series_id)
    return in_series[in_series.count() // 2]


class ThumbnailView(DicomWebView):
    """GET a study's, series' or instance's thumbnail (the middle image, 128 px)."""

    def get(
        self,
        request: Request,
        project_pk: int,
        study: str,
        series: str | None = None,
        instance: str | None = None,
    ) -> HttpResponse:
        project = self.get_project()
        if instance is not None and series is not None:
            found = get_instance(project, study, series, instance)
            number = (found.number_of_frames + 1) // 2
        elif series is not None:
            found = _middle_image(project, series=get_series(project, study, series))
            number = 1
        else:
            found = _middle_image(project, series__study=get_study(project, study))
            number = 1
        return rendered_response(request, found, number, default_size=THUMBNAIL_SIZE)
