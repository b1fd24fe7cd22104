"""Segmentation masks: the chunk codec, slice patches, whole-volume writes, reads,
measurements, majority merge and NIfTI export."""

import gzip
import json
import math
import struct
import zlib

import nibabel as nib
import numpy as np
import pytest

from annotator.accounts.models import User
from annotator.core.errors import StaleVersionError
from annotator.imaging.geometry import index_to_lps, lps_to_ras
from annotator.imaging.models import Stack
from annotator.imaging.volume import stack_geometry
from annotator.labeling.annotations import create_annotation, restore_revision
from annotator.labeling.errors import InvalidAnnotationError, NotAllowedError
from annotator.labeling.mask_codec import (
    MAGIC,
    WireChunk,
    chunk_digest,
    decode_message,
    decode_slice,
    encode_message,
    encode_slice,
)
from annotator.labeling.mask_nifti import mask_to_nifti
from annotator.labeling.mask_reads import (
    mask_shape,
    measure_mask,
    read_annotation_segments,
    read_segments,
    voxel_volume_ml,
)
from annotator.labeling.masks import apply_mask_patch, merge_masks, write_segments
from annotator.labeling.models import Annotation, AnnotationSet, MaskChunk, Source
from annotator.projects.models import Role

pytestmark = pytest.mark.django_db

SEGMENTS = [
    {"number": 1, "label": "organ", "attributes": {}},
    {"number": 2, "label": "nodule", "attributes": {"texture": "solid"}},
]


def _mask(reader_set: AnnotationSet, actor: User | None, stack: Stack, **kw: object) -> Annotation:
    return create_annotation(
        annotation_set=reader_set,
        actor=actor,
        label_key="organ",
        data={"segments": kw.pop("segments", SEGMENTS)},
        stack=stack,
        **kw,
    )


def _disc(rows: int, columns: int, centre: tuple[int, int], radius: float) -> np.ndarray:
    j, i = np.ogrid[:rows, :columns]
    return (j - centre[0]) ** 2 + (i - centre[1]) ** 2 <= radius**2


@pytest.fixture
def mask(reader_set: AnnotationSet, reader: User, ct_stack: Stack) -> Annotation:
    return _mask(reader_set, reader, ct_stack)


# --- codec ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(32, 32), (5, 7), (1, 1), (3, 9)])
def test_encode_slice_round_trips_bits(shape: tuple[int, int]) -> None:
    bits = np.random.default_rng(7).random(shape) < 0.3
    bits.flat[0] = True
    data = encode_slice(bits)
    decoded = decode_slice(data, *shape)
    assert decoded.dtype == np.bool_
    np.testing.assert_array_equal(decoded, bits)


def test_encode_slice_packs_row_major_least_significant_bit_first() -> None:
    bits = np.zeros((2, 8), dtype=bool)
    bits[0, 1] = bits[1, 0] = bits[1, 7] = True
    packed = zlib.decompress(encode_slice(bits))
    assert packed == bytes([0b00000010, 0b10000001])


def test_encode_slice_of_empty_slice_is_empty_bytes() -> None:
    assert encode_slice(np.zeros((4, 4), dtype=bool)) == b""
    assert not decode_slice(b"", 4, 4).any()


def test_encode_slice_rejects_3d() -> None:
    with pytest.raises(InvalidAnnotationError, match="2D"):
        encode_slice(np.zeros((2, 2, 2), dtype=bool))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not zlib at all", "zlib"),
        (zlib.compress(b"\xff" * 127), "128 bytes"),  # one byte short
        (zlib.compress(b"\xff" * 129), "longer"),
        (zlib.compress(b"\xff" * 10_000_000), "longer"),  # a bomb is not inflated in full
        (zlib.compress(b"\xff" * 128)[:-3], "128 bytes"),  # truncated stream
        (zlib.compress(b"\xff" * 128) + b"xx", "after"),
    ],
)
def test_decode_slice_rejects_garbage(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidAnnotationError, match=reason):
        decode_slice(data, 32, 32)


def test_chunk_digest_is_sha256_of_the_bytes() -> None:
    assert chunk_digest(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


def test_decode_message_round_trips() -> None:
    chunks = [
        WireChunk(1, 0, encode_slice(np.eye(4, dtype=bool))),
        WireChunk(2, 3, b""),
        WireChunk(1, 2, encode_slice(np.ones((4, 4), dtype=bool))),
    ]
    body = encode_message((5, 4, 4), chunks)
    assert body[:4] == MAGIC
    assert body[4] == 1
    assert body[5:8] == b"\0\0\0"
    size = struct.unpack_from("<I", body, 8)[0]
    header = json.loads(body[12 : 12 + size])
    assert header["shape"] == [5, 4, 4]
    assert header["encoding"] == "packbits-zlib"
    assert [c["length"] for c in header["chunks"]] == [len(c.data) for c in chunks]
    message = decode_message(body)
    assert message.shape == (5, 4, 4)
    assert message.chunks == chunks


def _body(header: object, tail: bytes = b"", *, prefix: bytes | None = None) -> bytes:
    text = json.dumps(header).encode()
    return (prefix or MAGIC + b"\x01\0\0\0") + struct.pack("<I", len(text)) + text + tail


GOOD = {"shape": [2, 4, 4], "encoding": "packbits-zlib", "bitorder": "little", "chunks": []}


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (b"AMS", "body", "shorter"),
        (_body(GOOD, prefix=b"XMSK\x01\0\0\0"), "body", "start with"),
        (_body(GOOD, prefix=b"AMSK\x02\0\0\0"), "body", "version 2"),
        (_body(GOOD, prefix=b"AMSK\x01\0\x01\0"), "body", "reserved"),
        (MAGIC + b"\x01\0\0\0" + struct.pack("<I", 999) + b"{}", "body", "past the end"),
        (MAGIC + b"\x01\0\0\0" + struct.pack("<I", 3) + b"{x}", "body.header", "JSON"),
        (_body([1, 2]), "body.header", "object"),
        (_body({**GOOD, "shape": [2, 4]}), "body.shape", "slices"),
        (_body({**GOOD, "shape": [2, 4, 0]}), "body.shape", ">= 1"),
        (_body({**GOOD, "encoding": "rle"}), "body.encoding", "packbits"),
        (_body({**GOOD, "bitorder": "big"}), "body.bitorder", "little"),
        (_body({**GOOD, "chunks": {}}), "body.chunks", "list"),
        (
            _body({**GOOD, "chunks": [{"segment": 1, "k": -1, "length": 0}]}),
            "body.chunks.0.k",
            ">= 0",
        ),
        (
            _body({**GOOD, "chunks": [{"segment": True, "k": 0, "length": 0}]}),
            "body.chunks.0",
            ">= 1",
        ),
        (
            _body({**GOOD, "chunks": [{"segment": 1, "k": 0, "length": 5}]}, b"abc"),
            "body.chunks.0.length",
            "past the end",
        ),
        (
            _body({**GOOD, "chunks": [{"segment": 1, "k": 0, "length": 2}]}, b"abc"),
            "body",
            "1 bytes follow",
        ),
        (
            _body({**GOOD, "chunks": [{"segment": 1, "k": 0, "length": 0}] * 2}),
            "body.chunks.1",
            "twice",
        ),
    ],
)
def test_decode_message_rejects_malformed_bodies(body: bytes, field: str, reason: str) -> None:
    with pytest.raises(InvalidAnnotationError, match=reason) as caught:
        decode_message(body)
    assert caught.value.field is not None
    assert caught.value.field.startswith(field)


# --- patches --------------------------------------------------------------------------------


def test_apply_mask_patch_writes_only_the_listed_slices(
    mask: Annotation, reader: User, ct_stack: Stack
) -> None:
    shape = mask_shape(mask)
    assert shape == (ct_stack.size[2], ct_stack.size[1], ct_stack.size[0]) == (8, 32, 32)
    a, b = _disc(32, 32, (10, 10), 4), _disc(32, 32, (20, 16), 6)
    saved = apply_mask_patch(
        annotation=mask,
        actor=reader,
        expected_version=1,
        chunks=[(1, 2, encode_slice(a)), (1, 3, encode_slice(b)), (2, 3, encode_slice(a))],
    )
    assert saved.version == 2
    first = dict(saved.mask_manifest["1"])
    assert set(first) == {"2", "3"}
    assert first["2"] == chunk_digest(encode_slice(a))
    assert saved.mask_manifest["2"] == {"3": first["2"]}  # same bits, same chunk
    assert MaskChunk.objects.count() == 2

    saved = apply_mask_patch(
        annotation=saved, actor=reader, expected_version=2, chunks=[(1, 2, b""), (2, 5, b"")]
    )
    assert saved.version == 3
    assert saved.mask_manifest == {"1": {"3": first["3"]}, "2": {"3": first["2"]}}
    volumes = read_annotation_segments(saved)
    expected_1 = np.zeros(shape, dtype=bool)
    expected_1[3] = b
    expected_2 = np.zeros(shape, dtype=bool)
    expected_2[3] = a
    np.testing.assert_array_equal(volumes[1], expected_1)
    np.testing.assert_array_equal(volumes[2], expected_2)
    revisions = list(saved.revisions.order_by("number"))
    assert [r.number for r in revisions] == [1, 2, 3]
    assert revisions[1].mask_manifest["1"] == first  # revisions keep their manifests
    assert revisions[2].source == Source.HUMAN
    assert revisions[2].author == reader


def test_apply_mask_patch_keeps_untouched_slices_and_reuses_chunks(
    mask: Annotation, reader: User
) -> None:
    disc = _disc(32, 32, (16, 16), 5)
    saved = apply_mask_patch(
        annotation=mask,
        actor=reader,
        expected_version=1,
        chunks=[(1, k, encode_slice(disc)) for k in range(8)],
    )
    before = {k: v for k, v in saved.mask_manifest["1"].items() if k != "4"}
    stroke = disc | _disc(32, 32, (2, 2), 2)
    saved = apply_mask_patch(
        annotation=saved, actor=reader, expected_version=2, chunks=[(1, 4, encode_slice(stroke))]
    )
    assert {k: v for k, v in saved.mask_manifest["1"].items() if k != "4"} == before
    assert MaskChunk.objects.count() == 2
    assert saved.measurements["segments"]["1"]["voxels"] == 7 * int(disc.sum()) + int(stroke.sum())


def test_apply_mask_patch_reencodes_client_chunks_canonically(
    mask: Annotation, reader: User
) -> None:
    disc = _disc(32, 32, (8, 8), 3)
    sloppy = zlib.compress(np.packbits(disc, bitorder="little").tobytes(), 9)
    assert sloppy != encode_slice(disc)
    saved = apply_mask_patch(
        annotation=mask, actor=reader, expected_version=1, chunks=[(1, 0, sloppy)]
    )
    stored = MaskChunk.objects.get()
    assert saved.mask_manifest == {"1": {"0": stored.digest}}
    assert bytes(stored.data) == encode_slice(disc)
    assert stored.digest == chunk_digest(bytes(stored.data))
    assert stored.voxels == int(disc.sum())


def test_apply_mask_patch_measures_voxels_volume_and_slice_extent(
    mask: Annotation, reader: User, ct_stack: Stack
) -> None:
    disc = _disc(32, 32, (16, 16), 5)
    saved = apply_mask_patch(
        annotation=mask,
        actor=reader,
        expected_version=1,
        chunks=[(1, 2, encode_slice(disc)), (1, 6, encode_slice(disc))],
    )
    voxel_mm3 = math.prod(ct_stack.spacing)
    assert voxel_volume_ml(ct_stack) == pytest.approx(voxel_mm3 / 1000)
    count = 2 * int(disc.sum())
    assert saved.measurements == {
        "segments": {
            "1": {
                "voxels": count,
                "volume_ml": pytest.approx(count * voxel_mm3 / 1000, rel=1e-6),
                "slices": [2, 6],
            },
            "2": {"voxels": 0, "volume_ml": 0.0, "slices": None},
        }
    }
    assert saved.revisions.get(number=2).measurements == saved.measurements


def test_measure_mask_reads_counts_without_decoding(
    mask: Annotation, reader: User, django_assert_num_queries, mocker
) -> None:
    disc = _disc(32, 32, (16, 16), 5)
    cuts = [disc & (np.arange(32) < 10 + k) for k in range(8)]
    saved = apply_mask_patch(
        annotation=mask,
        actor=reader,
        expected_version=1,
        chunks=[(2, k, encode_slice(cut)) for k, cut in enumerate(cuts)],
    )
    mocker.patch(
        "annotator.labeling.mask_reads.decode_slice", side_effect=AssertionError("decoded")
    )
    with django_assert_num_queries(1):
        measured = measure_mask(manifest=saved.mask_manifest, segments=[1, 2], voxel_ml=0.001)
    voxels = sum(int(cut.sum()) for cut in cuts)
    assert measured["segments"]["2"]["voxels"] == voxels
    assert measured["segments"]["2"]["volume_ml"] == pytest.approx(voxels / 1000)
    assert measured["segments"]["1"] == {"voxels": 0, "volume_ml": 0.0, "slices": None}


def test_apply_mask_patch_with_replace_clears_unlisted_slices(
    mask: Annotation, reader: User
) -> None:
    disc = encode_slice(_disc(32, 32, (16, 16), 5))
    saved = apply_mask_patch(
        annotation=mask,
        actor=reader,
        expected_version=1,
        chunks=[(1, 1, disc), (2, 2, disc)],
    )
    saved = apply_mask_patch(
        annotation=saved, actor=reader, expected_version=2, chunks=[(1, 5, disc)], replace=True
    )
    assert saved.mask_manifest == {"1": {"5": chunk_digest(disc)}}


def test_apply_mask_patch_stale_version_raises_and_keeps_the_stored_mask(
    mask: Annotation, reader: User
) -> None:
    disc = encode_slice(_disc(32, 32, (16, 16), 5))
    saved = apply_mask_patch(
        annotation=mask, actor=reader, expected_version=1, chunks=[(1, 1, disc)]
    )
    with pytest.raises(StaleVersionError) as caught:
        apply_mask_patch(annotation=saved, actor=reader, expected_version=1, chunks=[(1, 1, b"")])
    assert caught.value.extra["current"].version == 2
    stored = Annotation.objects.get(pk=mask.pk)
    assert stored.version == 2
    assert stored.mask_manifest == {"1": {"1": chunk_digest(disc)}}


@pytest.mark.parametrize(
    ("chunks", "shape", "field", "reason"),
    [
        ([(3, 0, "disc")], None, "segments", r"\[3\]"),
        ([(1, 8, "disc")], None, "chunks.0.k", "outside the volume"),
        ([(1, -1, "disc")], None, "chunks.0.k", "outside the volume"),
        ([(1, 0, "small")], None, "chunks.0.data", "inflate to 128 bytes"),
        ([(1, 0, "garbage")], None, "chunks.0.data", "zlib"),
        ([(1, 0, "disc"), (1, 0, "disc")], None, "chunks.1", "twice"),
        ([(1, 0, "disc")], (8, 32, 31), "shape", "does not match"),
    ],
)
def test_apply_mask_patch_rejects_bad_input_and_stores_nothing(
    mask: Annotation,
    reader: User,
    chunks: list[tuple[int, int, str]],
    shape: tuple[int, int, int] | None,
    field: str,
    reason: str,
) -> None:
    payloads = {
        "disc": encode_slice(_disc(32, 32, (16, 16), 5)),
        "small": encode_slice(_disc(16, 64, (8, 8), 3)[:, :16]),
        "garbage": b"\x00\x01garbage",
    }
    with pytest.raises(InvalidAnnotationError, match=reason) as caught:
        apply_mask_patch(
            annotation=mask,
            actor=reader,
            expected_version=1,
            chunks=[(s, k, payloads[p]) for s, k, p in chunks],
            shape=shape,
        )
    assert caught.value.field == field
    stored = Annotation.objects.get(pk=mask.pk)
    assert (stored.version, stored.mask_manifest) == (1, {})
    assert not MaskChunk.objects.exists()


def test_apply_mask_patch_rolls_back_chunks_when_the_commit_fails(
    mask: Annotation, reader: User, mocker
) -> None:
    mocker.patch(
        "annotator.labeling.masks.commit_annotation_change", side_effect=RuntimeError("boom")
    )
    with pytest.raises(RuntimeError):
        apply_mask_patch(
            annotation=mask,
            actor=reader,
            expected_version=1,
            chunks=[(1, 0, encode_slice(_disc(32, 32, (5, 5), 3)))],
        )
    assert not MaskChunk.objects.exists()
    assert Annotation.objects.get(pk=mask.pk).mask_manifest == {}


def test_apply_mask_patch_refuses_a_non_mask(
    reader_set: AnnotationSet, reader: User, ct_stack: Stack
) -> None:
    point = create_annotation(
        annotation_set=reader_set,
        actor=reader,
        label_key="marker",
        data={"point": [3, 4]},
        stack=ct_stack,
        slice_index=2,
    )
    with pytest.raises(InvalidAnnotationError, match="not a mask"):
        apply_mask_patch(annotation=point, actor=reader, expected_version=1, chunks=[])


def test_apply_mask_patch_by_another_reader_is_not_allowed(mask: Annotation, member_of) -> None:
    other = member_of(Role.ANNOTATOR)
    with pytest.raises(NotAllowedError):
        apply_mask_patch(
            annotation=mask,
            actor=other,
            expected_version=1,
            chunks=[(1, 0, encode_slice(_disc(32, 32, (5, 5), 3)))],
        )
    assert Annotation.objects.get(pk=mask.pk).version == 1


def test_restore_revision_brings_back_earlier_bits(mask: Annotation, reader: User) -> None:
    first = _disc(32, 32, (10, 10), 4)
    saved = apply_mask_patch(
        annotation=mask, actor=reader, expected_version=1, chunks=[(1, 3, encode_slice(first))]
    )
    saved = apply_mask_patch(
        annotation=saved, actor=reader, expected_version=2, chunks=[(1, 3, b"")]
    )
    assert not read_annotation_segments(saved)[1].any()
    restored = restore_revision(annotation=saved, actor=reader, expected_version=3, number=2)
    np.testing.assert_array_equal(read_annotation_segments(restored)[1][3], first)
    assert restored.measurements["segments"]["1"]["voxels"] == int(first.sum())


# --- whole volumes and reads ----------------------------------------------------------------


def _volumes(shape: tuple[int, int, int]) -> dict[int, np.ndarray]:
    k, j, i = np.ogrid[: shape[0], : shape[1], : shape[2]]
    ball = (k - 4) ** 2 * 4 + (j - 16) ** 2 + (i - 16) ** 2 <= 81
    corner = np.zeros(shape, dtype=bool)
    corner[1:3, 0:4, 28:32] = True
    return {1: ball, 2: corner | (ball & (i > 16))}  # overlapping segments


def test_write_segments_replaces_all_bits(mask: Annotation, reader: User) -> None:
    volumes = _volumes(mask_shape(mask))
    saved = write_segments(
        annotation=mask,
        actor=None,
        expected_version=1,
        segments=volumes,
        source=Source.MODEL,
        model_version="demo-1",
        note="prediction",
    )
    read = read_annotation_segments(saved)
    np.testing.assert_array_equal(read[1], volumes[1])
    np.testing.assert_array_equal(read[2], volumes[2])
    assert set(saved.mask_manifest["2"]) == {str(k) for k in range(8)}
    assert set(saved.mask_manifest["1"]) == {str(k) for k in range(8)}
    revision = saved.revisions.get(number=2)
    assert (revision.source, revision.model_version, revision.note, revision.author) == (
        Source.MODEL,
        "demo-1",
        "prediction",
        None,
    )
    assert saved.measurements["segments"]["2"]["voxels"] == int(volumes[2].sum())

    saved = write_segments(
        annotation=saved,
        actor=reader,
        expected_version=2,
        segments={2: volumes[1]},
        source=Source.HUMAN,
    )
    read = read_annotation_segments(saved)
    assert not read[1].any()
    np.testing.assert_array_equal(read[2], volumes[1])
    assert saved.mask_manifest["2"] == revision.mask_manifest["1"]  # same slices, same chunks


@pytest.mark.parametrize(
    ("segments", "reason"),
    [
        ({1: np.zeros((8, 32, 31), dtype=bool)}, "shape"),
        ({1: np.zeros((8, 32, 32), dtype=np.uint8)}, "bool"),
        ({4: np.zeros((8, 32, 32), dtype=bool)}, r"\[4\]"),
    ],
)
def test_write_segments_rejects_bad_volumes(
    mask: Annotation, segments: dict[int, np.ndarray], reason: str
) -> None:
    with pytest.raises(InvalidAnnotationError, match=reason):
        write_segments(
            annotation=mask, actor=None, expected_version=1, segments=segments, source="model"
        )
    assert Annotation.objects.get(pk=mask.pk).version == 1


def test_read_segments_of_a_slice_range_decodes_only_that_range(mask: Annotation, mocker) -> None:
    volumes = _volumes(mask_shape(mask))
    saved = write_segments(
        annotation=mask, actor=None, expected_version=1, segments=volumes, source="model"
    )
    spy = mocker.spy(
        __import__("annotator.labeling.mask_reads").labeling.mask_reads, "decode_slice"
    )
    part = read_segments(manifest=saved.mask_manifest, shape=(8, 32, 32), start=3, stop=5)
    assert set(part) == {1, 2}
    assert part[1].shape == (2, 32, 32)
    np.testing.assert_array_equal(part[1], volumes[1][3:5])
    np.testing.assert_array_equal(part[2], volumes[2][3:5])
    assert spy.call_count == 4
    only_two = read_segments(manifest=saved.mask_manifest, shape=(8, 32, 32), segments=[2])
    assert set(only_two) == {2}
    np.testing.assert_array_equal(only_two[2], volumes[2])


def test_read_segments_reports_a_missing_chunk() -> None:
    with pytest.raises(InvalidAnnotationError, match="missing"):
        read_segments(manifest={"1": {"0": "ab" * 32}}, shape=(1, 4, 4))


# --- merge ----------------------------------------------------------------------------------


def test_merge_masks_keeps_voxels_most_readers_marked(
    reader_set: AnnotationSet, reader: User, ct_stack: Stack
) -> None:
    shape = (8, 32, 32)
    cells = [np.zeros(shape, dtype=bool) for _ in range(4)]
    for n, cell in enumerate(cells):
        cell[n, 0, 0] = True
    marks = [  # (organ, nodule) of each reader
        ({1: cells[0] | cells[1] | cells[2]}, {2: cells[3]}),
        ({1: cells[0] | cells[1]}, {}),
        ({1: cells[0]}, {2: cells[3]}),
    ]
    readings = []
    for organ, nodule in marks:
        made = _mask(reader_set, reader, ct_stack)
        readings.append(
            write_segments(
                annotation=made,
                actor=reader,
                expected_version=1,
                segments={**organ, **nodule},
                source=Source.HUMAN,
            )
        )
    # the third reader drew the organ as two segments of one label: it counts once
    extra = _mask(
        reader_set,
        reader,
        ct_stack,
        segments=[{"number": 1, "label": "organ"}, {"number": 5, "label": "organ"}],
    )
    readings[2] = write_segments(
        annotation=extra,
        actor=reader,
        expected_version=1,
        segments={1: cells[0], 5: cells[0] | cells[2]},
        source=Source.HUMAN,
    )
    merged = merge_masks(readings)
    assert set(merged) == {"organ", "nodule"}
    assert not merged["nodule"].any()  # only the first reader kept a nodule
    assert merged["organ"].dtype == np.bool_
    assert merged["organ"].shape == shape
    assert set(zip(*np.nonzero(merged["organ"]), strict=True)) == {(0, 0, 0), (1, 0, 0), (2, 0, 0)}
    merged = merge_masks([*readings[:2], _with_nodule(reader_set, reader, ct_stack, cells[3])])
    assert set(zip(*np.nonzero(merged["organ"]), strict=True)) == {(0, 0, 0), (1, 0, 0)}
    assert set(zip(*np.nonzero(merged["nodule"]), strict=True)) == {(3, 0, 0)}  # 2 of 3
    merged = merge_masks(readings, min_agreement=0.0)
    assert merged["organ"].sum() == 3
    strict = merge_masks(readings, min_agreement=0.9)
    assert set(zip(*np.nonzero(strict["organ"]), strict=True)) == {(0, 0, 0)}


def _with_nodule(
    reader_set: AnnotationSet, reader: User, stack: Stack, bits: np.ndarray
) -> Annotation:
    made = _mask(reader_set, reader, stack)
    return write_segments(
        annotation=made, actor=reader, expected_version=1, segments={2: bits}, source="human"
    )


def test_merge_masks_rejects_bad_requests(
    reader_set: AnnotationSet, reader: User, ct_stack: Stack, oblique_stack: Stack
) -> None:
    with pytest.raises(InvalidAnnotationError, match="at least one"):
        merge_masks([])
    one = _mask(reader_set, reader, ct_stack)
    with pytest.raises(InvalidAnnotationError, match="min_agreement"):
        merge_masks([one], min_agreement=1.0)
    other = Annotation.objects.create(
        project=one.project,
        annotation_set=reader_set,
        label_key="organ",
        kind="mask",
        scope="series",
        study=one.study,
        series=one.series,
        stack=oblique_stack,
        data={"segments": SEGMENTS},
        schema_version=one.schema_version,
    )
    with pytest.raises(InvalidAnnotationError, match="same stack"):
        merge_masks([one, other])


# --- NIfTI ----------------------------------------------------------------------------------


def _read_nifti(data: bytes) -> nib.Nifti1Image:
    assert data[:2] == b"\x1f\x8b"  # gzip
    return nib.Nifti1Image.from_bytes(gzip.decompress(data))


def _extension(image: nib.Nifti1Image) -> dict:
    [extension] = image.header.extensions
    assert extension.get_code() == 6
    return json.loads(extension.get_content().rstrip(b"\0"))


def _assert_affine_matches_geometry(image: nib.Nifti1Image, stack: Stack) -> None:
    geometry = stack_geometry(stack)
    columns, rows, slices = stack.size
    corners = np.array(
        [[i, j, k] for i in (0, columns - 1) for j in (0, rows - 1) for k in (0, slices - 1)]
        + [[1.5, 2.25, 1.0]],
        dtype=float,
    )
    expected = lps_to_ras(index_to_lps(geometry, corners))
    for affine in (image.affine, image.header.get_sform(), image.header.get_qform()):
        mapped = nib.affines.apply_affine(affine, corners)
        np.testing.assert_allclose(mapped, expected, atol=1e-4)
    # and LPS = RAS with x, y negated, as geometry.index_to_lps gives it
    lps = nib.affines.apply_affine(image.affine, corners) * [-1, -1, 1]
    np.testing.assert_allclose(lps, index_to_lps(geometry, corners), atol=1e-4)


def test_mask_to_nifti_writes_a_label_map_when_segments_do_not_overlap(
    mask: Annotation, ct_stack: Stack
) -> None:
    volumes = _volumes(mask_shape(mask))
    volumes[2] &= ~volumes[1]
    saved = write_segments(
        annotation=mask, actor=None, expected_version=1, segments=volumes, source="model"
    )
    image = _read_nifti(mask_to_nifti(saved))
    data = np.asarray(image.dataobj)
    assert data.dtype == np.uint8
    assert data.shape == tuple(ct_stack.size)  # (i, j, k)
    label_map = np.zeros((8, 32, 32), dtype=np.uint8)
    label_map[volumes[1]] = 1
    label_map[volumes[2]] = 2
    np.testing.assert_array_equal(data, label_map.transpose(2, 1, 0))
    assert data[17, 16, 4] == 1  # i, j, k of a voxel inside the ball
    assert image.header.get_intent()[0] == "label"
    assert b"1=organ 2=nodule" in image.header["descrip"].tobytes()
    assert _extension(image) == {
        "layout": "label_map",
        "segments": [
            {"number": 1, "label": "organ", "index": 0},
            {"number": 2, "label": "nodule", "index": 1},
        ],
    }
    np.testing.assert_allclose(image.header.get_zooms(), ct_stack.spacing, rtol=1e-5)
    _assert_affine_matches_geometry(image, ct_stack)


def test_mask_to_nifti_writes_one_hot_volumes_when_segments_overlap(
    mask: Annotation, ct_stack: Stack
) -> None:
    volumes = _volumes(mask_shape(mask))
    assert (volumes[1] & volumes[2]).any()
    saved = write_segments(
        annotation=mask, actor=None, expected_version=1, segments=volumes, source="model"
    )
    image = _read_nifti(mask_to_nifti(saved))
    data = np.asarray(image.dataobj)
    assert data.shape == (*ct_stack.size, 2)
    np.testing.assert_array_equal(data[..., 0], volumes[1].transpose(2, 1, 0))
    np.testing.assert_array_equal(data[..., 1], volumes[2].transpose(2, 1, 0))
    assert _extension(image)["layout"] == "one_hot"
    _assert_affine_matches_geometry(image, ct_stack)


def _rotation(a: float, b: float, c: float) -> np.ndarray:
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(c), -math.sin(c), 0], [math.sin(c), math.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


@pytest.fixture
def oblique_stack(ct_stack: Stack) -> Stack:
    """A hand-made oblique stack whose rows run towards patient right (i flipped)."""
    rotation = _rotation(0.3, -0.5, 2.2)
    row, column = -rotation[:, 0], rotation[:, 1]
    normal = np.cross(row, column)
    direction = np.column_stack([row, column, normal])
    return Stack.objects.create(
        series=ct_stack.series,
        index=7,
        role="volume",
        size=[6, 5, 4],
        spacing=[0.8, 0.9, 2.0],
        origin=[10.0, -20.0, 30.0],
        direction=[float(v) for v in direction.ravel()],
        uniform=True,
        slice_positions=[0.0, 2.0, 4.0, 6.0],
    )


def test_mask_to_nifti_places_voxels_like_the_geometry_on_an_oblique_flipped_stack(
    reader_set: AnnotationSet, reader: User, oblique_stack: Stack
) -> None:
    assert min(abs(v) for v in oblique_stack.direction) > 0.05  # no axis-aligned cosine
    made = _mask(reader_set, reader, oblique_stack)
    assert mask_shape(made) == (4, 5, 6)
    bits = np.zeros((4, 5, 6), dtype=bool)
    bits[3, 1, 5] = bits[0, 4, 0] = True
    saved = write_segments(
        annotation=made, actor=reader, expected_version=1, segments={1: bits}, source="human"
    )
    image = _read_nifti(mask_to_nifti(saved))
    data = np.asarray(image.dataobj)
    assert data.shape == (6, 5, 4)
    assert {tuple(int(v) for v in p) for p in np.argwhere(data)} == {(5, 1, 3), (0, 4, 0)}
    _assert_affine_matches_geometry(image, oblique_stack)
    # the marked voxel lands on its patient position
    point = nib.affines.apply_affine(image.affine, [5, 1, 3]) * [-1, -1, 1]
    np.testing.assert_allclose(
        point, index_to_lps(stack_geometry(oblique_stack), [5, 1, 3]), atol=1e-4
    )
    assert voxel_volume_ml(oblique_stack) == pytest.approx(0.8 * 0.9 * 2.0 / 1000)
