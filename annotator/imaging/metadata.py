"""DICOM JSON metadata of stored instances, cached per file (stored files never change).

The WADO-RS metadata endpoint serves these; volume builds warm them, so a viewer opening a
300-slice series gets its metadata from the cache instead of parsing 300 headers.
"""

import json
from collections.abc import Iterable

from django.core.cache import cache
from django.core.files.storage import default_storage

from annotator.imaging.dicom_pixels import instance_metadata
from annotator.imaging.models import Instance, Series

# The JSON holds this token where the host-dependent bulk data URL goes, so one cache entry
# serves every host name; the endpoint substitutes the real URL.
BULK_TOKEN = "urn:annotator:bulkdata"  # noqa: S105 - a placeholder, not a secret
CACHE_SECONDS = 7 * 24 * 3600

Row = tuple[int, str, str, str]  # pk, content digest, file name, transfer syntax


def cache_key(pk: int, digest: str) -> str:
    """Return the cache key of one instance's metadata."""
    return f"dicomweb:metadata:v1:{pk}:{digest[:16]}"


def read_metadata(name: str, syntax: str) -> str:
    """Parse one stored file's header into DICOM JSON text (with BULK_TOKEN URLs)."""
    with default_storage.open(name, "rb") as fp:
        data = instance_metadata(fp, bulk_url=BULK_TOKEN, transfer_syntax=syntax)
    return json.dumps(data, separators=(",", ":"))


def metadata_texts(rows: Iterable[Row]) -> list[str]:
    """Return the DICOM JSON text of each row, from the cache or parsed and then cached."""
    rows = list(rows)
    keys = [cache_key(pk, digest) for pk, digest, _, _ in rows]
    cached = cache.get_many(keys)
    fresh = {
        key: read_metadata(name, syntax)
        for key, (_, _, name, syntax) in zip(keys, rows, strict=True)
        if key not in cached
    }
    if fresh:
        cache.set_many(fresh, CACHE_SECONDS)
    return [cached.get(key) or fresh[key] for key in keys]


def warm_metadata(series: Series) -> int:
    """Cache the metadata of every instance of a series; returns how many were parsed."""
    rows = list(
        Instance.objects.filter(series=series).values_list(
            "pk", "content_digest", "file", "transfer_syntax_uid"
        )
    )
    before = len(cache.get_many([cache_key(pk, digest) for pk, digest, _, _ in rows]))
    metadata_texts(rows)
    return len(rows) - before
