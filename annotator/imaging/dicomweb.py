"""DICOMweb (PS3.18) helpers: DICOM JSON values, QIDO-RS query keys and matching, media types.

Pure data in and out: no HTTP, no database. `api/dicomweb/` turns a parsed `Query` into ORM
filters and these values into responses.

QIDO-RS matching implemented (PS3.4 C.2.2.2 as PS3.18 8.3.4 narrows it):

* UID list matching (UI): ``StudyInstanceUID=1.2.3,1.2.4`` (commas or backslashes).
* Single value and wildcard matching (``*`` any run, ``?`` one character) for strings; person
  names and descriptions match case-insensitively, IDs and code strings exactly.
* Range matching for dates (``20200101``, ``20200101-20201231``, ``-20201231``, ``20200101-``)
  and times (``HHMMSS[.F]`` and their prefixes, same range forms). Date and time are matched
  independently, not as one combined date-time range.
* An empty value (``PatientID=``) matches everything and asks for the attribute to be returned.
"""

import re
from dataclasses import dataclass, field
from datetime import date
from enum import IntEnum
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

from annotator.core.errors import DomainError

EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1.99"
NATIVE_SYNTAXES = frozenset(
    {
        EXPLICIT_VR_LITTLE_ENDIAN,
        IMPLICIT_VR_LITTLE_ENDIAN,
        EXPLICIT_VR_BIG_ENDIAN,
        DEFLATED_EXPLICIT_VR_LITTLE_ENDIAN,
    }
)
OCTET_STREAM = "application/octet-stream"
DICOM = "application/dicom"
DICOM_JSON = "application/dicom+json"

# Media types of compressed frames (PS3.18 Table 8.7.3-2 and 8.7.3-5).
FRAME_MEDIA_TYPES: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.4.92": "image/jpx",
    "1.2.840.10008.1.2.4.93": "image/jpx",
    "1.2.840.10008.1.2.4.201": "image/jphc",
    "1.2.840.10008.1.2.4.202": "image/jphc",
    "1.2.840.10008.1.2.4.203": "image/jphc",
    "1.2.840.10008.1.2.4.110": "image/jxl",
    "1.2.840.10008.1.2.4.111": "image/jxl",
    "1.2.840.10008.1.2.4.112": "image/jxl",
    "1.2.840.10008.1.2.5": "image/x-dicom-rle",
}
# Other names clients use for the same media types.
MEDIA_TYPE_ALIASES = {"image/dicom-rle": "image/x-dicom-rle", "image/x-jls": "image/jls"}


def frame_media_type(transfer_syntax_uid: str) -> str:
    """Return the media type of a frame stored in this transfer syntax (octet-stream if native)."""
    return FRAME_MEDIA_TYPES.get(transfer_syntax_uid, OCTET_STREAM)


def is_native(transfer_syntax_uid: str) -> bool:
    """Return whether pixel data in this transfer syntax is uncompressed."""
    return transfer_syntax_uid in NATIVE_SYNTAXES


# --- DICOM JSON (PS3.18 F.2) ------------------------------------------------------------------


def tag_hex(keyword: str) -> str:
    """Return the 8-digit upper-case hex tag of a keyword, as DICOM JSON keys it."""
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(keyword)
    return f"{tag:08X}"


def json_attribute(vr: str, *values: Any) -> dict[str, Any]:
    """Return a DICOM JSON attribute; empty values (None, "") make a zero-length attribute."""
    kept = [v for v in values if v is not None and v != ""]
    if not kept:
        return {"vr": vr}
    if vr == "PN":
        kept = [{"Alphabetic": str(v)} for v in kept]
    elif vr in ("DA", "TM", "UI", "CS", "LO", "SH", "UR", "AE", "LT", "ST", "UT"):
        kept = [str(v) for v in kept]
    return {"vr": vr, "Value": kept}


def dicom_json(attributes: dict[str, Any]) -> dict[str, Any]:
    """Build a DICOM JSON dataset from {keyword: value or [values]} using dictionary VRs."""
    result: dict[str, Any] = {}
    for keyword, value in attributes.items():
        values = value if isinstance(value, list | tuple) else [value]
        result[tag_hex(keyword)] = json_attribute(dictionary_VR(keyword), *values)
    return dict(sorted(result.items()))


def format_date(value: date | None) -> str:
    """Return a DA value (YYYYMMDD), or "" for None."""
    return value.strftime("%Y%m%d") if value else ""


# --- QIDO-RS queries --------------------------------------------------------------------------


class QueryError(DomainError):
    """A QIDO-RS query parameter is malformed or unknown (answered with 400)."""

    code = "invalid_query"


class Level(IntEnum):
    """Query/retrieve levels, from the top of the hierarchy down."""

    STUDY = 0
    SERIES = 1
    INSTANCE = 2


class Kind(IntEnum):
    """How a key's value is matched."""

    UID = 0  # UID list
    EXACT = 1  # single value, wildcards allowed, case-sensitive
    FOLDED = 2  # single value, wildcards allowed, case-insensitive
    DATE = 3
    TIME = 4
    INTEGER = 5
    CODES = 6  # any of a list of code strings (ModalitiesInStudy)


# The match keys this server supports, their level and how they match.
QUERY_KEYS: dict[str, tuple[Level, Kind]] = {
    "PatientID": (Level.STUDY, Kind.EXACT),
    "PatientName": (Level.STUDY, Kind.FOLDED),
    "StudyDate": (Level.STUDY, Kind.DATE),
    "StudyTime": (Level.STUDY, Kind.TIME),
    "AccessionNumber": (Level.STUDY, Kind.EXACT),
    "StudyInstanceUID": (Level.STUDY, Kind.UID),
    "StudyDescription": (Level.STUDY, Kind.FOLDED),
    "ModalitiesInStudy": (Level.STUDY, Kind.CODES),
    "Modality": (Level.SERIES, Kind.EXACT),
    "SeriesInstanceUID": (Level.SERIES, Kind.UID),
    "SeriesNumber": (Level.SERIES, Kind.INTEGER),
    "SeriesDescription": (Level.SERIES, Kind.FOLDED),
    "BodyPartExamined": (Level.SERIES, Kind.EXACT),
    "SOPInstanceUID": (Level.INSTANCE, Kind.UID),
    "SOPClassUID": (Level.INSTANCE, Kind.UID),
    "InstanceNumber": (Level.INSTANCE, Kind.INTEGER),
}
CONTROL_PARAMETERS = frozenset({"limit", "offset", "fuzzymatching", "includefield"})
IGNORED_PARAMETERS = frozenset({"orderby", "accept", "charset"})  # orderby: optional
MAX_VALUE_LENGTH = 1024  # long enough for a list of UIDs, short enough for any matcher
_DATE = re.compile(r"\d{8}")
_TIME = re.compile(r"\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?")
_WILDCARD = re.compile(r"[*?]")


@dataclass(frozen=True)
class Match:
    """One match key of a query with its parsed value.

    `values` holds UIDs or codes (UID, CODES), one pattern (EXACT, FOLDED; see `regex`) or one
    integer as text (INTEGER). `low`/`high` bound DATE (date) and TIME (normalized text) ranges.
    """

    keyword: str
    level: Level
    kind: Kind
    values: tuple[str, ...] = ()
    low: Any = None
    high: Any = None

    @property
    def has_wildcard(self) -> bool:
        """Return whether a string pattern contains * or ?."""
        return bool(self.values) and bool(_WILDCARD.search(self.values[0]))

    @property
    def regex(self) -> str:
        """Return the anchored regular expression of a wildcard pattern."""
        return wildcard_regex(self.values[0])


@dataclass
class Query:
    """A parsed QIDO-RS query: match keys, extra attributes to return, paging, warnings."""

    level: Level
    matches: list[Match] = field(default_factory=list)
    include: set[str] = field(default_factory=set)
    include_all: bool = False
    limit: int | None = None
    offset: int = 0
    warnings: list[str] = field(default_factory=list)


def wildcard_regex(pattern: str) -> str:
    """Translate a DICOM wildcard pattern (* and ?) into an anchored regular expression."""
    parts = [".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern]
    return "^" + "".join(parts) + "$"


def keyword_of(attribute: str) -> str:
    """Return the keyword of an attribute given by keyword or 8-digit hex tag.

    Raises:
        QueryError: neither a dictionary keyword nor a hex tag of one.
    """
    text = attribute.strip()
    if re.fullmatch(r"[0-9A-Fa-f]{8}", text):
        keyword = keyword_for_tag(int(text, 16))
        if keyword:
            return str(keyword)
    elif tag_for_keyword(text) is not None:
        return text
    raise QueryError(f"Unknown attribute {attribute[:40]!r}.", field=attribute[:40])


def parse_date_range(text: str) -> tuple[date | None, date | None]:
    """Parse DA single value or range (a-b, -b, a-).

    Raises:
        QueryError: not YYYYMMDD or an impossible date.
    """
    low_text, dash, high_text = text.partition("-")
    if not dash:
        high_text = low_text
    bounds: list[date | None] = []
    for part in (low_text, high_text):
        if not part:
            bounds.append(None)
            continue
        if not _DATE.fullmatch(part):
            raise QueryError("Dates are YYYYMMDD or a range of them.", field="StudyDate")
        try:
            bounds.append(date(int(part[:4]), int(part[4:6]), int(part[6:])))
        except ValueError as error:
            raise QueryError("Not a valid date.", field="StudyDate") from error
    if bounds[0] is None and bounds[1] is None:
        raise QueryError("A date range needs at least one end.", field="StudyDate")
    return bounds[0], bounds[1]


def parse_time_range(text: str) -> tuple[str | None, str | None]:
    """Parse TM single value or range into string bounds for `stored >= low`, `stored < high`.

    A stored TM compares as text: the low bound drops trailing zero fields (so 0930 matches
    093000) and the high bound is the next value at its own precision (0930 → 0931 covers
    09:30:59.999). Fractions of the high bound are dropped (whole-second precision).

    Raises:
        QueryError: not HH[MM[SS[.F]]].
    """
    low_text, dash, high_text = text.partition("-")
    if not dash:
        high_text = low_text
    for part in (low_text, high_text):
        if part and not _TIME.fullmatch(part):
            raise QueryError("Times are HHMMSS.FFFFFF or a range of them.", field="StudyTime")
    if not low_text and not high_text:
        raise QueryError("A time range needs at least one end.", field="StudyTime")
    low = None
    if low_text:
        low = low_text.rstrip("0").rstrip(".") if "." in low_text else low_text
        while len(low) > 2 and low.endswith("00"):
            low = low[:-2]
    high = None
    if high_text:
        whole = high_text.split(".")[0]
        high = str(int(whole) + 1).zfill(len(whole))
    return low, high


def _split(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in re.split(r"[,\\]", text) if v.strip())


def parse_match(keyword: str, value: str) -> Match | None:
    """Parse one match key; None for an empty value (universal matching).

    Raises:
        QueryError: a malformed value.
    """
    level, kind = QUERY_KEYS[keyword]
    if value == "":
        return None
    if len(value) > MAX_VALUE_LENGTH:
        raise QueryError(f"{keyword} is longer than {MAX_VALUE_LENGTH} characters.", field=keyword)
    if kind in (Kind.UID, Kind.CODES):
        values = _split(value)
        if kind == Kind.UID and not all(re.fullmatch(r"[0-9.]{1,64}", v) for v in values):
            raise QueryError(f"{keyword} takes UIDs separated by commas.", field=keyword)
        return Match(keyword, level, kind, values)
    if kind == Kind.DATE:
        low, high = parse_date_range(value)
        return Match(keyword, level, kind, low=low, high=high)
    if kind == Kind.TIME:
        low_time, high_time = parse_time_range(value)
        return Match(keyword, level, kind, low=low_time, high=high_time)
    if kind == Kind.INTEGER:
        if not re.fullmatch(r"[+-]?\d{1,10}", value.strip()):
            raise QueryError(f"{keyword} takes an integer.", field=keyword)
        return Match(keyword, level, kind, (str(int(value)),))
    return Match(keyword, level, kind, (value,))


def _non_negative(name: str, value: str) -> int:
    if not value.strip().isdigit():
        raise QueryError(f"{name} must be a non-negative integer.", field=name)
    return int(value)


def parse_query(params: list[tuple[str, str]], level: Level) -> Query:
    """Parse QIDO-RS query parameters (repeated keys allowed) for a query at `level`.

    Keys of the query's level and the levels above it match; keys of lower levels match too
    (a study matches when any of its series or instances does). Known DICOM attributes that
    this server cannot match on are ignored with a warning, as PS3.18 8.3.4.1 allows.

    Raises:
        QueryError: unknown parameters or attributes, malformed values, bad limit/offset.
    """
    query = Query(level=level)
    unsupported: list[str] = []
    for name, value in params:
        if name == "includefield":
            for item in _split(value.replace(" ", ",")):
                if item.lower() == "all":
                    query.include_all = True
                else:
                    query.include.add(keyword_of(item))
        elif name == "limit":
            query.limit = _non_negative(name, value)
        elif name == "offset":
            query.offset = _non_negative(name, value)
        elif name == "fuzzymatching" or name in IGNORED_PARAMETERS:
            continue
        else:
            if "." in name:  # sequence paths such as 00081032.00080100
                raise QueryError("Sequence matching is not supported.", field=name[:40])
            keyword = keyword_of(name)
            if keyword not in QUERY_KEYS:
                unsupported.append(keyword)
                query.include.add(keyword)
                continue
            match = parse_match(keyword, value)
            query.include.add(keyword)
            if match is not None:
                query.matches.append(match)
    if unsupported:
        query.warnings.append(
            "299 annotator: The following attributes are not supported as match keys and "
            "were ignored: " + ", ".join(sorted(set(unsupported)))
        )
    return query


def parse_frame_list(text: str) -> list[int]:
    """Parse a frame list ("1,3,2"; 1-based, order kept).

    Raises:
        QueryError: not comma-separated positive integers.
    """
    try:
        frames = [int(v) for v in text.split(",")]
    except ValueError as error:
        raise QueryError("Frames are positive integers separated by commas.") from error
    if not frames or any(n < 1 for n in frames):
        raise QueryError("Frame numbers start at 1.")
    return frames
