"""Accept header negotiation for DICOMweb resources (PS3.18 8.7).

Media ranges are tried in order of quality (then as written); the first one this server can
satisfy wins, and 406 answers a request none of whose ranges it can.

* Instances: ``multipart/related; type="application/dicom"`` with ``transfer-syntax=*``
  returns files as stored; without the parameter, Explicit VR Little Endian (the PS3.18
  default: compressed files are decompressed); with a UID, that syntax if it is the stored one
  or Explicit VR Little Endian. A bare ``application/dicom`` is accepted for one instance.
* Frames and pixel bulk data: ``type="application/octet-stream"`` gives native frames unless
  ``transfer-syntax=*``, which returns compressed frames as stored with their own media type
  (image/jpeg, image/jls, image/jp2, image/jpx, image/x-dicom-rle...); ``type="image/jp2"``
  etc. asks for that compressed form, served when it is the stored one.
* ``*/*`` and ``multipart/related`` without a type get the PS3.18 defaults;
  ``multipart/related; type="*/*"`` (dicomweb-client's default) gets everything as stored.
"""

from collections.abc import Collection
from dataclasses import dataclass, field

from rest_framework.exceptions import NotAcceptable

from annotator.imaging.dicomweb import (
    DICOM,
    EXPLICIT_VR_BIG_ENDIAN,
    EXPLICIT_VR_LITTLE_ENDIAN,
    IMPLICIT_VR_LITTLE_ENDIAN,
    MEDIA_TYPE_ALIASES,
    OCTET_STREAM,
    frame_media_type,
    is_native,
)

MULTIPART = "multipart/related"
ANY = frozenset({"*/*", "multipart/*"})


@dataclass(frozen=True)
class MediaRange:
    """One media range of an Accept header (type lower-cased, parameters unquoted)."""

    media_type: str
    params: dict[str, str] = field(default_factory=dict)
    q: float = 1.0

    @property
    def part_type(self) -> str | None:
        """Return the `type` parameter of a multipart range, normalized."""
        value = self.params.get("type")
        if value is None:
            return None
        value = value.lower()
        return MEDIA_TYPE_ALIASES.get(value, value)

    @property
    def is_default(self) -> bool:
        """Return whether the range leaves the representation to the server."""
        return self.media_type in ANY or (self.media_type == MULTIPART and not self.part_type)


def split_outside_quotes(text: str, separator: str) -> list[str]:
    """Split on `separator` except inside double quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def parse_media_type(text: str) -> tuple[str, dict[str, str]]:
    """Parse `type/subtype; name=value; ...` into the lower-cased type and its parameters."""
    pieces = split_outside_quotes(text, ";")
    media_type = pieces[0].lower() if pieces else ""
    params: dict[str, str] = {}
    for piece in pieces[1:]:
        name, _, value = piece.partition("=")
        params[name.strip().lower()] = value.strip().strip('"')
    return media_type, params


def parse_accept(header: str | None) -> list[MediaRange]:
    """Parse an Accept header; no header means */*."""
    ranges = []
    for item in split_outside_quotes(header or "*/*", ","):
        media_type, params = parse_media_type(item)
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 1.0
        if q > 0 and media_type:
            ranges.append(MediaRange(media_type, params, q))
    return sorted(ranges, key=lambda r: -r.q)  # stable: ties keep their written order


@dataclass(frozen=True)
class DicomChoice:
    """How to send instances: a transfer syntax (None: as stored), multipart or single."""

    transfer_syntax: str | None
    multipart: bool = True


def _can_send(stored: Collection[str], target: str | None) -> bool:
    if target is None:
        return True
    # Everything can become Explicit VR Little Endian except (retired) big endian files.
    return all(
        s == target or (target == EXPLICIT_VR_LITTLE_ENDIAN and s != EXPLICIT_VR_BIG_ENDIAN)
        for s in stored
    )


def choose_dicom(
    ranges: list[MediaRange], stored: Collection[str], *, single: bool = False
) -> DicomChoice:
    """Choose the representation of application/dicom instances stored in `stored` syntaxes.

    Raises:
        NotAcceptable: no acceptable range can be served.
    """
    for r in ranges:
        if r.is_default:
            return DicomChoice(None)
        bare = single and r.media_type in (DICOM, "application/*")
        wanted = r.media_type == MULTIPART and r.part_type in (DICOM, "application/*", "*/*")
        if not (bare or wanted):
            continue
        syntax = r.params.get("transfer-syntax")
        if syntax == "*" or (syntax is None and r.part_type == "*/*"):
            target = None  # as stored
        else:
            target = syntax or EXPLICIT_VR_LITTLE_ENDIAN
        if _can_send(stored, target):
            return DicomChoice(target, multipart=not bare)
    raise NotAcceptable("None of the accepted media types can be served for these instances.")


def choose_frames(ranges: list[MediaRange], stored: str) -> bool:
    """Return whether to send frames as stored (True) or native (False).

    Raises:
        NotAcceptable: no acceptable range can be served.
    """
    compressed = not is_native(stored)
    for r in ranges:
        if r.is_default:
            return False
        if r.media_type != MULTIPART:
            continue
        syntax = r.params.get("transfer-syntax")
        if r.part_type == "*/*" and syntax in (None, "*"):
            return compressed  # anything goes: as stored
        if r.part_type in (OCTET_STREAM, "application/*"):
            if syntax == "*":
                return compressed
            if syntax in (None, EXPLICIT_VR_LITTLE_ENDIAN, IMPLICIT_VR_LITTLE_ENDIAN):
                return False
        elif (
            compressed
            and syntax in (None, "*", stored)
            and (r.part_type == "image/*" or r.part_type == frame_media_type(stored))
        ):
            return True
    raise NotAcceptable("None of the accepted media types can be served for these frames.")


def choose_rendered(ranges: list[MediaRange]) -> str:
    """Return "jpeg" or "png" for a rendered resource.

    Raises:
        NotAcceptable: neither image/jpeg nor image/png is acceptable.
    """
    for r in ranges:
        if r.media_type in ("image/jpeg", "image/*", "*/*"):
            return "jpeg"
        if r.media_type == "image/png":
            return "png"
    raise NotAcceptable("Rendered images are image/jpeg or image/png.")


def require_json(ranges: list[MediaRange]) -> None:
    """Check that application/dicom+json is acceptable.

    Raises:
        NotAcceptable: it is not.
    """
    json_types = {"application/dicom+json", "application/json", "application/*", "*/*"}
    if not any(r.media_type in json_types for r in ranges):
        raise NotAcceptable("This resource is application/dicom+json.")


def require_octet_stream(ranges: list[MediaRange]) -> None:
    """Check that multipart application/octet-stream is acceptable.

    Raises:
        NotAcceptable: it is not.
    """
    if not any(
        r.is_default or (r.media_type == MULTIPART and r.part_type == OCTET_STREAM) for r in ranges
    ):
        raise NotAcceptable("This bulk data is multipart/related; type=application/octet-stream.")
