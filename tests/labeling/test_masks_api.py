"""The mask endpoint: binary wire format both ways, NIfTI export, versions, bad input."""

import gzip
import json
import struct
from collections.abc import Callable

import nibabel as nib
import numpy as np
import pytest
from rest_framework.test import APIClient

from annotator.accounts.models import User
from annotator.imaging.models import Stack
from annotator.labeling.annotations import create_annotation
from annotator.labeling.mask_codec import (
    MEDIA_TYPE,
    WireChunk,
    chunk_digest,
    decode_message,
    decode_slice,
    encode_message,
    encode_slice,
)
from annotator.labeling.mask_reads import read_annotation_segments
from annotator.labeling.masks import apply_mask_patch
from annotator.labeling.models import Annotation, AnnotationSet, MaskChunk
from annotator.projects.models import Role
from tests.factories import make_project

pytestmark = pytest.mark.django_db

SEGMENTS = [
    {"number": 1, "label": "organ", "attributes": {}},
    {"number": 2, "label": "nodule", "attributes": {}},
]


def _disc(centre: tuple[int, int], radius: float) -> np.ndarray:
    j, i = np.ogrid[:32, :32]
    return (j - centre[0]) ** 2 + (i - centre[1]) ** 2 <= radius**2


A, B = _disc((10, 10), 4), _disc((20, 18), 6)


@pytest.fixture
def mask(reader_set: AnnotationSet, reader: User, ct_stack: Stack) -> Annotation:
    return create_annotation(
        annotation_set=reader_set,
        actor=reader,
        label_key="organ",
        data={"segments": SEGMENTS},
        stack=ct_stack,
    )


@pytest.fixture
def drawn(mask: Annotation, reader: User) -> Annotation:
    """The mask with segment 1 on slices 2 and 3 and segment 2 on slice 5 (version 2)."""
    return apply_mask_patch(
        annotation=mask,
        actor=reader,
        expected_version=1,
        chunks=[(1, 2, encode_slice(A)), (1, 3, encode_slice(B)), (2, 5, encode_slice(A))],
    )


@pytest.fixture
def client(client_for: Callable[[User], APIClient], reader: User) -> APIClient:
    return client_for(reader)


def _url(annotation: Annotation, project_id: int | None = None) -> str:
    project = project_id or annotation.project_id
    return f"/api/v1/projects/{project}/annotations/{annotation.pk}/mask/"


def _body(response) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join(response.streaming_content) if response.streaming else response.content


def _patch(client: APIClient, annotation: Annotation, body: bytes, version: object = None, **kw):  # type: ignore[no-untyped-def]
    headers = {} if version is None else {"HTTP_IF_MATCH": f'"{version}"'}
    return client.patch(
        _url(annotation) + kw.pop("query", ""),
        data=body,
        content_type=kw.pop("content_type", MEDIA_TYPE),
        **headers,
        **kw,
    )


# --- GET ------------------------------------------------------------------------------------


def test_mask_get_returns_every_stored_chunk_in_the_wire_format(
    client: APIClient, drawn: Annotation
) -> None:
    response = client.get(_url(drawn))
    assert response.status_code == 200
    assert response["Content-Type"] == MEDIA_TYPE
    assert response["ETag"] == '"2"'
    body = _body(response)
    assert int(response["Content-Length"]) == len(body)
    message = decode_message(body)
    assert message.shape == (8, 32, 32)
    assert [(c.segment, c.k) for c in message.chunks] == [(1, 2), (1, 3), (2, 5)]
    np.testing.assert_array_equal(decode_slice(message.chunks[0].data, 32, 32), A)
    np.testing.assert_array_equal(decode_slice(message.chunks[1].data, 32, 32), B)
    assert message.chunks[0].data == encode_slice(A)  # the stored bytes, as they are
    size = struct.unpack_from("<I", body, 8)[0]
    header = json.loads(body[12 : 12 + size])
    assert header["version"] == 2
    assert header["segments"] == [{"number": 1, "label": "organ"}, {"number": 2, "label": "nodule"}]


def test_mask_get_of_an_empty_mask_has_no_chunks(client: APIClient, mask: Annotation) -> None:
    response = client.get(_url(mask))
    assert response.status_code == 200
    assert decode_message(_body(response)).chunks == []
    assert response["ETag"] == '"1"'


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?segment=1", [(1, 2), (1, 3)]),
        ("?segment=2", [(2, 5)]),
        ("?segment=1,2", [(1, 2), (1, 3), (2, 5)]),
        ("?k=3-5", [(1, 3), (2, 5)]),
        ("?k=3", [(1, 3)]),
        ("?segment=1&k=3-20", [(1, 3)]),
        ("?k=6-7", []),
    ],
)
def test_mask_get_filters_by_segment_and_slice_range(
    client: APIClient, drawn: Annotation, query: str, expected: list[tuple[int, int]]
) -> None:
    response = client.get(_url(drawn) + query)
    assert response.status_code == 200
    assert [(c.segment, c.k) for c in decode_message(_body(response)).chunks] == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [("?segment=x", "segment"), ("?segment=9", "segment"), ("?k=5-2", "k"), ("?k=a", "k")],
)
def test_mask_get_rejects_bad_filters(
    client: APIClient, drawn: Annotation, query: str, field: str
) -> None:
    response = client.get(_url(drawn) + query)
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_mask_get_answers_304_when_the_etag_matches(client: APIClient, drawn: Annotation) -> None:
    response = client.get(_url(drawn), HTTP_IF_NONE_MATCH='"2"')
    assert response.status_code == 304
    assert response["ETag"] == '"2"'
    assert client.get(_url(drawn), HTTP_IF_NONE_MATCH='"1"').status_code == 200


@pytest.mark.parametrize(("query", "accept"), [("?format=nifti", "*/*"), ("", "application/gzip")])
def test_mask_get_exports_nifti(
    client: APIClient, drawn: Annotation, ct_stack: Stack, query: str, accept: str
) -> None:
    response = client.get(_url(drawn) + query, HTTP_ACCEPT=accept)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/gzip"
    assert response["Content-Disposition"].startswith("attachment;")
    assert f"annotation-{drawn.pk}-v2.nii.gz" in response["Content-Disposition"]
    assert response["ETag"] == '"2"'
    image = nib.Nifti1Image.from_bytes(gzip.decompress(response.content))
    data = np.asarray(image.dataobj)
    assert data.shape == tuple(ct_stack.size)
    np.testing.assert_array_equal(data[..., 2], np.where(A, 1, 0).T)
    np.testing.assert_array_equal(data[..., 5], np.where(A, 2, 0).T)


def test_mask_get_rejects_an_unknown_format(client: APIClient, drawn: Annotation) -> None:
    response = client.get(_url(drawn) + "?format=png")
    assert response.status_code == 400
    assert response.json()["errors"] == {"format": ['format must be "mask" or "nifti".']}


# --- PATCH / PUT ----------------------------------------------------------------------------


def test_mask_patch_replaces_the_sent_slices(client: APIClient, drawn: Annotation) -> None:
    body = encode_message((8, 32, 32), [WireChunk(1, 2, b""), WireChunk(1, 7, encode_slice(B))])
    response = _patch(client, drawn, body, version=2)
    assert response.status_code == 200, response.content
    assert response["ETag"] == '"3"'
    payload = response.json()
    assert payload["id"] == drawn.pk
    assert payload["version"] == 3
    assert payload["measurements"]["segments"]["1"]["voxels"] == 2 * int(B.sum())
    assert payload["measurements"]["segments"]["1"]["slices"] == [3, 7]
    stored = Annotation.objects.get(pk=drawn.pk)
    assert stored.version == 3
    assert set(stored.mask_manifest["1"]) == {"3", "7"}
    assert stored.mask_manifest["2"] == drawn.mask_manifest["2"]
    volumes = read_annotation_segments(stored)
    np.testing.assert_array_equal(volumes[1][7], B)
    assert not volumes[1][2].any()


def test_mask_patch_accepts_the_version_as_a_query_parameter(
    client: APIClient, mask: Annotation
) -> None:
    body = encode_message((8, 32, 32), [WireChunk(2, 0, encode_slice(A))])
    response = _patch(client, mask, body, query="?version=1")
    assert response.status_code == 200
    assert response.json()["version"] == 2


def test_mask_put_replaces_the_whole_mask(client: APIClient, drawn: Annotation) -> None:
    body = encode_message((8, 32, 32), [WireChunk(2, 1, encode_slice(B))])
    response = client.put(_url(drawn), data=body, content_type=MEDIA_TYPE, HTTP_IF_MATCH='"2"')
    assert response.status_code == 200, response.content
    stored = Annotation.objects.get(pk=drawn.pk)
    assert stored.mask_manifest == {"2": {"1": chunk_digest(encode_slice(B))}}


def test_mask_patch_without_a_version_is_rejected(client: APIClient, drawn: Annotation) -> None:
    body = encode_message((8, 32, 32), [WireChunk(1, 0, encode_slice(A))])
    response = _patch(client, drawn, body)
    assert response.status_code == 400
    assert "If-Match" in response.json()["message"]
    assert response.json()["errors"]["version"]
    assert Annotation.objects.get(pk=drawn.pk).version == 2


def test_mask_patch_with_a_malformed_if_match_is_rejected(
    client: APIClient, drawn: Annotation
) -> None:
    body = encode_message((8, 32, 32), [])
    response = client.patch(_url(drawn), data=body, content_type=MEDIA_TYPE, HTTP_IF_MATCH="*")
    assert response.status_code == 400
    assert "version" in response.json()["errors"]


def test_mask_patch_with_a_stale_version_gets_409_and_the_current_annotation(
    client: APIClient, drawn: Annotation
) -> None:
    chunks_before = MaskChunk.objects.count()
    body = encode_message((8, 32, 32), [WireChunk(1, 2, encode_slice(B))])
    response = _patch(client, drawn, body, version=1)
    assert response.status_code == 409
    payload = response.json()
    assert payload["code"] == "stale_version"
    assert payload["current"]["id"] == drawn.pk
    assert payload["current"]["version"] == 2
    stored = Annotation.objects.get(pk=drawn.pk)
    assert (stored.version, stored.mask_manifest) == (2, drawn.mask_manifest)
    assert MaskChunk.objects.count() == chunks_before


def _raw(header: dict, tail: bytes = b"") -> bytes:
    text = json.dumps(header).encode()
    return b"AMSK\x01\0\0\0" + struct.pack("<I", len(text)) + text + tail


HEADER = {"shape": [8, 32, 32], "encoding": "packbits-zlib", "bitorder": "little"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"", "body"),
        (b"NOPE" + bytes(20), "body"),
        (encode_message((8, 32, 32), [])[:-2], "body"),
        (encode_message((8, 32, 31), [WireChunk(1, 0, encode_slice(A[:, :31]))]), "shape"),
        (encode_message((8, 32, 32), [WireChunk(1, 8, encode_slice(A))]), "chunks.0.k"),
        (encode_message((8, 32, 32), [WireChunk(3, 0, encode_slice(A))]), "segments"),
        (encode_message((8, 32, 32), [WireChunk(1, 0, b"junk")]), "chunks.0.data"),
        (
            encode_message((8, 32, 32), [WireChunk(1, 0, encode_slice(A[:16]))]),
            "chunks.0.data",
        ),
        (_raw({**HEADER, "chunks": [{"segment": 1, "k": 0, "length": 50}]}, b"x"), "body.chunks"),
        (_raw({**HEADER, "chunks": []}, b"trailing"), "body"),
    ],
)
def test_mask_patch_with_a_malformed_body_is_rejected_and_stores_nothing(
    client: APIClient, drawn: Annotation, body: bytes, field: str
) -> None:
    chunks_before = MaskChunk.objects.count()
    response = _patch(client, drawn, body, version=2)
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["message"]
    assert any(key.startswith(field) for key in payload["errors"]), payload
    stored = Annotation.objects.get(pk=drawn.pk)
    assert (stored.version, stored.mask_manifest) == (2, drawn.mask_manifest)
    assert MaskChunk.objects.count() == chunks_before


def test_mask_patch_with_another_content_type_gets_415(
    client: APIClient, drawn: Annotation
) -> None:
    response = _patch(client, drawn, b'{"a": 1}', version=2, content_type="application/json")
    assert response.status_code == 415
    assert Annotation.objects.get(pk=drawn.pk).version == 2


def test_mask_patch_above_the_size_limit_gets_413(
    client: APIClient, drawn: Annotation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("api.labeling_masks.MAX_BODY_BYTES", 100)
    body = encode_message((8, 32, 32), [WireChunk(1, k, encode_slice(B)) for k in range(8)])
    assert len(body) > 100
    response = _patch(client, drawn, body, version=2)
    assert response.status_code == 413
    assert response.json()["code"] == "mask_too_large"
    assert Annotation.objects.get(pk=drawn.pk).version == 2


# --- visibility -----------------------------------------------------------------------------


def test_mask_of_another_project_is_404(
    client_for: Callable[[User], APIClient], drawn: Annotation, reader: User, manager: User
) -> None:
    other = make_project(owner=manager, name="Other")
    client = client_for(manager)
    assert client.get(_url(drawn, other.pk)).status_code == 404
    body = encode_message((8, 32, 32), [WireChunk(1, 0, b"")])
    response = client.patch(
        _url(drawn, other.pk), data=body, content_type=MEDIA_TYPE, HTTP_IF_MATCH='"2"'
    )
    assert response.status_code == 404
    assert client_for(reader).get(_url(drawn, other.pk)).status_code == 404  # not a member


def test_mask_of_another_reader_is_404_while_blinded(
    client_for: Callable[[User], APIClient], member_of, drawn: Annotation
) -> None:
    other = member_of(Role.ANNOTATOR)
    client = client_for(other)
    assert client.get(_url(drawn)).status_code == 404
    body = encode_message((8, 32, 32), [WireChunk(1, 2, b"")])
    response = client.patch(_url(drawn), data=body, content_type=MEDIA_TYPE, HTTP_IF_MATCH='"2"')
    assert response.status_code == 404
    assert Annotation.objects.get(pk=drawn.pk).version == 2


def test_mask_of_a_missing_annotation_is_404(client: APIClient, drawn: Annotation) -> None:
    url = f"/api/v1/projects/{drawn.project_id}/annotations/{drawn.pk + 1000}/mask/"
    assert client.get(url).status_code == 404


def test_mask_endpoint_needs_authentication(api: APIClient, drawn: Annotation) -> None:
    assert api.get(_url(drawn)).status_code == 401


def test_mask_endpoint_refuses_an_annotation_that_is_not_a_mask(
    client: APIClient, reader_set: AnnotationSet, reader: User, ct_stack: Stack
) -> None:
    point = create_annotation(
        annotation_set=reader_set,
        actor=reader,
        label_key="marker",
        data={"point": [3, 4]},
        stack=ct_stack,
        slice_index=2,
    )
    response = client.get(_url(point))
    assert response.status_code == 400
    assert "not a mask" in response.json()["message"]
    body = encode_message((8, 32, 32), [])
    assert _patch(client, point, body, version=1).status_code == 400


def test_mask_reviewer_sees_the_readers_mask(
    client_for: Callable[[User], APIClient], reviewer: User, drawn: Annotation
) -> None:
    response = client_for(reviewer).get(_url(drawn))
    assert response.status_code == 200
    assert len(decode_message(_body(response)).chunks) == 3


def test_mask_put_accepts_a_nifti_label_map_round_trip(
    client: APIClient, drawn: Annotation, ct_stack: Stack
) -> None:
    exported = client.get(_url(drawn) + "?format=nifti").content
    cleared = encode_message((8, 32, 32), [WireChunk(1, 2, b"")])
    assert _patch(client, drawn, cleared, version=2).status_code == 200
    response = client.put(
        _url(drawn), data=exported, content_type="application/gzip", HTTP_IF_MATCH='"3"'
    )
    assert response.status_code == 200, response.content
    volumes = read_annotation_segments(Annotation.objects.get(pk=drawn.pk))
    np.testing.assert_array_equal(volumes[1][2], A)  # back from the file
    np.testing.assert_array_equal(volumes[2][5], A)
    assert response.json()["version"] == 4


def test_mask_nifti_of_another_grid_or_unknown_values_is_refused(
    client: APIClient, drawn: Annotation, ct_stack: Stack
) -> None:
    from annotator.imaging.geometry import nifti_affine
    from annotator.imaging.volume import stack_geometry

    affine = nifti_affine(stack_geometry(ct_stack))
    wrong_shape = nib.Nifti1Image(np.zeros((16, 32, 8), dtype=np.uint8), affine)
    response = client.put(
        _url(drawn),
        data=gzip.compress(wrong_shape.to_bytes()),
        content_type="application/gzip",
        HTTP_IF_MATCH='"2"',
    )
    assert response.status_code == 400
    assert "shape" in response.json()["message"].lower()
    labels = np.zeros(tuple(ct_stack.size), dtype=np.uint8)
    labels[1, 1, 1] = 9
    unknown = nib.Nifti1Image(labels, affine)
    response = client.put(
        _url(drawn),
        data=gzip.compress(unknown.to_bytes()),
        content_type="application/gzip",
        HTTP_IF_MATCH='"2"',
    )
    assert response.status_code == 400
    assert "[9]" in response.json()["message"]
    patch = client.patch(
        _url(drawn),
        data=gzip.compress(unknown.to_bytes()),
        content_type="application/gzip",
        HTTP_IF_MATCH='"2"',
    )
    assert patch.status_code == 400
    assert Annotation.objects.get(pk=drawn.pk).version == 2


def test_mask_get_of_an_earlier_revision(client: APIClient, drawn: Annotation) -> None:
    body = encode_message((8, 32, 32), [WireChunk(1, 2, b"")])
    assert _patch(client, drawn, body, version=2).status_code == 200
    now = decode_message(_body(client.get(_url(drawn))))
    before = decode_message(_body(client.get(_url(drawn) + "?revision=2")))
    assert {(c.segment, c.k) for c in now.chunks} == {(1, 3), (2, 5)}
    assert {(c.segment, c.k) for c in before.chunks} == {(1, 2), (1, 3), (2, 5)}
    assert client.get(_url(drawn) + "?revision=9").status_code == 404
    assert client.get(_url(drawn) + "?revision=x").status_code == 400
