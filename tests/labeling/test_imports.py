"""Label import: DICOM SEG, RTSTRUCT and NIfTI readers on a series' grid, and the service."""

import gzip
import io
from collections.abc import Sequence
from typing import Any

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.sr.codedict import codes
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from annotator.accounts.models import User
from annotator.audit.models import AuditEvent
from annotator.core.errors import NotFoundError
from annotator.imaging.geometry import StackGeometry, index_to_lps, lps_to_ras, nifti_affine
from annotator.imaging.models import Instance, Series, Stack
from annotator.imaging.volume import stack_geometry
from annotator.labeling import imports as imports_module
from annotator.labeling.errors import ImportRejectedError
from annotator.labeling.import_nifti import read_nifti
from annotator.labeling.import_rtstruct import RTSTRUCT_SOP_CLASS_UID, read_rtstruct
from annotator.labeling.import_seg import read_seg
from annotator.labeling.imports import (
    LabelFormat,
    detect_format,
    import_label_file,
    import_labels,
    map_segments,
    read_labels,
)
from annotator.labeling.mask_nifti import segments_to_nifti
from annotator.labeling.mask_reads import read_annotation_segments
from annotator.labeling.models import (
    Annotation,
    AnnotationRevision,
    AnnotationSet,
    LabelingTask,
    MaskChunk,
    SetKind,
    Source,
)
from annotator.projects.access import PermissionDeniedError
from tests.imaging.dicom_files import real_file, to_bytes

pytestmark = [
    pytest.mark.django_db,
    # highdicom warns that the de-identified pseudonym is a one-component person name.
    pytest.mark.filterwarnings("ignore:The string .* person name:UserWarning"),
]


# --- building label files ------------------------------------------------------------------------


def stored_datasets(series: Series) -> list[Dataset]:
    """Return the series' stored (de-identified) images in stack order (k ascending)."""
    instances = Instance.objects.filter(series=series, is_image=True).order_by("stack_position")
    return [pydicom.dcmread(instance.file.path) for instance in instances]


def make_seg(
    sources: Sequence[Dataset],
    masks: np.ndarray,
    names: Sequence[str],
    *,
    segmentation_type: str = "BINARY",
) -> Dataset:
    """Build a SEG with highdicom; `masks` is (len(sources), rows, columns, segments)."""
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=number,
            segment_label=name,
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=codes.SCT.Tissue,
            algorithm_type="MANUAL",
        )
        for number, name in enumerate(names, start=1)
    ]
    return hd.seg.Segmentation(
        source_images=list(sources),
        pixel_array=masks,
        segmentation_type=segmentation_type,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=50,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="tests",
        manufacturer_model_name="tests",
        software_versions="1",
        device_serial_number="1",
    )


def seg_bytes(seg: Dataset) -> bytes:
    buffer = io.BytesIO()
    seg.save_as(buffer)
    return buffer.getvalue()


def reread(seg: Dataset) -> Dataset:
    return pydicom.dcmread(io.BytesIO(seg_bytes(seg)))


def contour(geometry: StackGeometry, ij: Sequence[tuple[float, float]], k: float) -> list[str]:
    """Return ContourData (LPS mm, as DS strings) of a polygon given in voxel indices."""
    points = index_to_lps(geometry, [(i, j, k) for i, j in ij])
    return [f"{v:.4f}" for v in points.ravel()]


def square(low: float, high: float) -> list[tuple[float, float]]:
    return [(low, low), (high, low), (high, high), (low, high)]


def make_rtstruct(rois: dict[int, tuple[str, list[list[str]]]]) -> Dataset:
    """Build an RT Structure Set: {ROI number: (name, [ContourData, ...])}."""
    ds = Dataset()
    ds.SOPClassUID = RTSTRUCT_SOP_CLASS_UID
    ds.SOPInstanceUID = generate_uid()
    ds.Modality = "RTSTRUCT"
    ds.StructureSetLabel = "tests"
    ds.StructureSetROISequence = DicomSequence()
    ds.ROIContourSequence = DicomSequence()
    for number, (name, contours) in rois.items():
        roi = Dataset()
        roi.ROINumber = number
        roi.ROIName = name
        ds.StructureSetROISequence.append(roi)
        item = Dataset()
        item.ReferencedROINumber = number
        item.ContourSequence = DicomSequence()
        for data in contours:
            one = Dataset()
            one.ContourGeometricType = "CLOSED_PLANAR"
            one.NumberOfContourPoints = len(data) // 3
            one.ContourData = data
            item.ContourSequence.append(one)
        ds.ROIContourSequence.append(item)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


def nifti_bytes(array: np.ndarray, affine: np.ndarray, *, compress: bool = True) -> bytes:
    image = nib.Nifti1Image(array, affine)
    image.set_sform(affine, code=1)
    image.set_qform(affine, code=1)
    data = image.to_bytes()
    return gzip.compress(data) if compress else data


def flip_affine(affine: np.ndarray, shape: Sequence[int], axes: Sequence[int]) -> np.ndarray:
    """Return the affine of an array whose `axes` were reversed (same world positions)."""
    flip = np.eye(4)
    for axis in axes:
        flip[axis, axis] = -1
        flip[axis, 3] = shape[axis] - 1
    flipped: np.ndarray = affine @ flip
    return flipped


@pytest.fixture
def geometry(ct_stack: Stack) -> StackGeometry:
    return stack_geometry(ct_stack)


@pytest.fixture
def sources(ct_series: Series) -> list[Dataset]:
    return stored_datasets(ct_series)


@pytest.fixture
def two_segment_masks() -> np.ndarray:
    """(8 slices in stack order, 32, 32, 2): a block of segment 1, a smaller one of segment 2."""
    masks = np.zeros((8, 32, 32, 2), dtype=bool)
    masks[2:5, 5:10, 6:12, 0] = True
    masks[6, 20:23, 1:3, 1] = True
    return masks


# --- DICOM SEG ---------------------------------------------------------------------------------


def test_read_seg_places_frames_by_position(
    sources: list[Dataset], geometry: StackGeometry
) -> None:
    # Encode in a scrambled order: the reader must sort frames by plane position.
    order = [5, 0, 7, 2, 6, 1, 4, 3]
    masks = np.zeros((8, 32, 32, 2), dtype=bool)
    masks[1, 5:10, 6:12, 0] = True  # source 1 is the slice at k=0
    masks[3, 2:4, 2:5, 0] = True  # source 3 is k=2
    masks[2, 30:32, 0:1, 1] = True  # source 2 is k=7, at the image edge
    seg = make_seg([sources[k] for k in order], masks, ["Nodule", "Organ"])

    found = read_seg(reread(seg), geometry)

    assert [(number, name) for number, name, _ in found] == [(1, "Nodule"), (2, "Organ")]
    expected = np.zeros((8, 32, 32, 2), dtype=bool)
    for position, k in enumerate(order):
        expected[k] = masks[position]
    assert np.array_equal(found[0][2], expected[..., 0])
    assert np.array_equal(found[1][2], expected[..., 1])
    assert found[0][2][0, 5:10, 6:12].all()
    assert found[0][2].sum() == 30 + 6
    assert found[1][2][7, 30:32, 0].all()
    assert found[1][2].sum() == 2


def test_read_seg_thresholds_fractional_at_half(
    sources: list[Dataset], geometry: StackGeometry
) -> None:
    fractions = np.zeros((8, 32, 32, 1), dtype=np.float32)
    fractions[4, 10, 10:14, 0] = [0.2, 0.49, 0.5, 0.9]
    seg = make_seg(sources, fractions, ["Organ"], segmentation_type="FRACTIONAL")

    [(_, _, volume)] = read_seg(reread(seg), geometry)

    assert np.argwhere(volume).tolist() == [[4, 10, 12], [4, 10, 13]]


def test_read_seg_rejects_a_frame_between_slices(
    sources: list[Dataset], geometry: StackGeometry, two_segment_masks: np.ndarray
) -> None:
    seg = reread(make_seg(sources, two_segment_masks, ["Nodule", "Organ"]))
    position = seg.PerFrameFunctionalGroupsSequence[1].PlanePositionSequence[0]
    x, y, z = (float(v) for v in position.ImagePositionPatient)
    position.ImagePositionPatient = [x, y, z + 1.25]  # half of the 2.5 mm slice step

    with pytest.raises(ImportRejectedError) as error:
        read_seg(seg, geometry)

    assert "Frame 2" in error.value.message
    assert "1.25 mm from the nearest slice" in error.value.message


def test_read_seg_rejects_a_sub_pixel_shift(
    sources: list[Dataset], geometry: StackGeometry, two_segment_masks: np.ndarray
) -> None:
    seg = reread(make_seg(sources, two_segment_masks, ["Nodule", "Organ"]))
    position = seg.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0]
    x, y, z = (float(v) for v in position.ImagePositionPatient)
    position.ImagePositionPatient = [x + 0.4, y, z]

    with pytest.raises(ImportRejectedError, match=r"shifted 0\.40 mm off the series' pixel grid"):
        read_seg(seg, geometry)


def test_read_seg_rejects_frames_reaching_outside_the_image(
    sources: list[Dataset], geometry: StackGeometry, two_segment_masks: np.ndarray
) -> None:
    seg = reread(make_seg(sources, two_segment_masks, ["Nodule", "Organ"]))
    position = seg.PerFrameFunctionalGroupsSequence[0].PlanePositionSequence[0]
    x, y, z = (float(v) for v in position.ImagePositionPatient)
    position.ImagePositionPatient = [x + 0.8, y, z]  # one whole pixel to the right

    with pytest.raises(ImportRejectedError, match="reaches outside the series' 32 x 32 image"):
        read_seg(seg, geometry)


def test_read_seg_rejects_other_pixel_spacing(
    sources: list[Dataset], geometry: StackGeometry, two_segment_masks: np.ndarray
) -> None:
    seg = reread(make_seg(sources, two_segment_masks, ["Nodule", "Organ"]))
    measures = seg.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    measures.PixelSpacing = [0.9, 0.9]

    with pytest.raises(ImportRejectedError) as error:
        read_seg(seg, geometry)

    assert error.value.message == (
        "The DICOM SEG's pixel spacing 0.9 x 0.9 mm (rows x columns) differs from the "
        "series' 0.8 x 0.8 mm."
    )


def test_read_seg_rejects_other_orientation(
    sources: list[Dataset], geometry: StackGeometry, two_segment_masks: np.ndarray
) -> None:
    seg = reread(make_seg(sources, two_segment_masks, ["Nodule", "Organ"]))
    orientation = seg.SharedFunctionalGroupsSequence[0].PlaneOrientationSequence[0]
    orientation.ImageOrientationPatient = [1, 0, 0, 0, 0, -1]  # coronal

    with pytest.raises(ImportRejectedError, match=r"orientation .* differs from the series'"):
        read_seg(seg, geometry)


# --- RTSTRUCT --------------------------------------------------------------------------------


def test_read_rtstruct_fills_squares_and_cuts_holes(geometry: StackGeometry) -> None:
    rtstruct = make_rtstruct(
        {
            7: ("GTV", [contour(geometry, square(4, 9), 2), contour(geometry, square(4, 9), 3)]),
            9: (
                "Liver",
                [contour(geometry, square(10, 20), 5), contour(geometry, square(13, 16), 5)],
            ),
        }
    )

    found = read_rtstruct(pydicom.dcmread(io.BytesIO(to_bytes(rtstruct))), geometry)

    assert [(number, name) for number, name, _ in found] == [(7, "GTV"), (9, "Liver")]
    gtv, liver = found[0][2], found[1][2]
    expected = np.zeros((8, 32, 32), dtype=bool)
    expected[2:4, 4:10, 4:10] = True  # pixel centres inside or on the outline: 6 x 6 per slice
    assert np.array_equal(gtv, expected)
    assert gtv.sum() == 72
    ring = np.zeros((8, 32, 32), dtype=bool)
    ring[5, 10:21, 10:21] = True
    ring[5, 13:17, 13:17] = False  # the inner contour is a hole (XOR)
    assert np.array_equal(liver, ring)
    assert liver.sum() == 121 - 16


def test_read_rtstruct_rejects_a_contour_between_slices(geometry: StackGeometry) -> None:
    rtstruct = make_rtstruct(
        {1: ("GTV", [contour(geometry, square(4, 9), 2), contour(geometry, square(4, 9), 3.5)])}
    )

    with pytest.raises(ImportRejectedError) as error:
        read_rtstruct(rtstruct, geometry)

    assert error.value.message.startswith("ROI 'GTV': a contour lies 1.25 mm off the plane")


def test_read_rtstruct_rejects_a_contour_outside_the_image(geometry: StackGeometry) -> None:
    rtstruct = make_rtstruct({3: ("Body", [contour(geometry, square(-3, 40), 1)])})

    with pytest.raises(ImportRejectedError, match=r"ROI 'Body': a contour on slice k=1 reaches"):
        read_rtstruct(rtstruct, geometry)


def test_read_rtstruct_rejects_pydicoms_structure_set_of_another_patient(
    geometry: StackGeometry,
) -> None:
    data = real_file("rtstruct.dcm").read_bytes()  # no preamble: detected by its first tags

    assert detect_format(data) == LabelFormat.RTSTRUCT
    with pytest.raises(ImportRejectedError, match=r"^ROI 'patient': a contour"):
        read_labels(data=data, geometry=geometry)


# --- NIfTI -------------------------------------------------------------------------------------


@pytest.fixture
def label_map() -> np.ndarray:
    """A label map [i, j, k] on the 32 x 32 x 8 grid: value 1 in a block, 3 in one voxel."""
    labels = np.zeros((32, 32, 8), dtype=np.uint8)
    labels[3:6, 10:12, 1] = 1
    labels[30, 2, 7] = 3
    return labels


def test_read_nifti_round_trips_the_exact_affine(
    geometry: StackGeometry, label_map: np.ndarray
) -> None:
    found = read_nifti(gzip.decompress(nifti_bytes(label_map, nifti_affine(geometry))), geometry)

    assert [(number, name) for number, name, _ in found] == [(1, "1"), (3, "3")]
    assert np.array_equal(found[0][2], (label_map == 1).transpose(2, 1, 0))
    assert np.argwhere(found[1][2]).tolist() == [[7, 2, 30]]


@pytest.mark.parametrize("axes", [(0,), (0, 1), (2,)])
def test_read_nifti_reorients_flipped_axes(
    geometry: StackGeometry, label_map: np.ndarray, axes: tuple[int, ...]
) -> None:
    flipped = np.flip(label_map, axis=axes)
    affine = flip_affine(nifti_affine(geometry), label_map.shape, axes)
    file_ijk = np.argwhere(flipped == 3)[0]

    found = read_labels(data=nifti_bytes(flipped, affine), geometry=geometry)[1]

    [(k, j, i)] = np.argwhere(found[1][2]).tolist()
    world = lps_to_ras(index_to_lps(geometry, (i, j, k)))
    assert np.allclose(world, (affine @ [*file_ijk, 1])[:3])
    assert (i, j, k) == (30, 2, 7)
    assert np.array_equal(found[0][2], (label_map == 1).transpose(2, 1, 0))


def test_read_nifti_reorients_swapped_axes(geometry: StackGeometry, label_map: np.ndarray) -> None:
    swapped = label_map.transpose(1, 0, 2)  # stored [j, i, k]
    affine = nifti_affine(geometry)[:, [1, 0, 2, 3]]

    found = read_nifti(nifti_bytes(swapped, affine, compress=False), geometry)

    assert np.argwhere(found[1][2]).tolist() == [[7, 2, 30]]


def test_read_nifti_rejects_other_spacing(geometry: StackGeometry, label_map: np.ndarray) -> None:
    affine = nifti_affine(geometry)
    affine[:3, 2] *= 3.0 / 2.5  # 3 mm slices instead of 2.5 mm

    with pytest.raises(ImportRejectedError) as error:
        read_nifti(nifti_bytes(label_map, affine, compress=False), geometry)

    assert "spacing (0.800, 0.800, 3.000) mm instead of the series' (0.800, 0.800, 2.500)" in (
        error.value.message
    )
    assert "origin" not in error.value.message


def test_read_nifti_rejects_another_origin(geometry: StackGeometry, label_map: np.ndarray) -> None:
    affine = nifti_affine(geometry)
    affine[2, 3] += 5.0

    with pytest.raises(ImportRejectedError, match=r"origin \(RAS\) .* \(5\.00 mm apart\)"):
        read_nifti(nifti_bytes(label_map, affine, compress=False), geometry)


def test_read_nifti_rejects_another_shape(geometry: StackGeometry, label_map: np.ndarray) -> None:
    with pytest.raises(ImportRejectedError) as error:
        read_nifti(
            nifti_bytes(label_map[:, :, :7], nifti_affine(geometry), compress=False), geometry
        )

    assert error.value.message == (
        "The NIfTI shape 32 x 32 x 7 differs from the series' 32 x 32 x 8 "
        "(columns x rows x slices)."
    )


def test_read_nifti_rejects_fractional_values(geometry: StackGeometry) -> None:
    values = np.full((32, 32, 8), 0.5, dtype=np.float32)

    with pytest.raises(ImportRejectedError, match="fractional values"):
        read_nifti(nifti_bytes(values, nifti_affine(geometry), compress=False), geometry)


def test_read_nifti_splits_one_hot_channels_keeping_overlaps(geometry: StackGeometry) -> None:
    one_hot = np.zeros((32, 32, 8, 2), dtype=np.uint8)
    one_hot[1:4, 1:3, 0, 0] = 1
    one_hot[2:5, 1:2, 0, 1] = 1  # overlaps channel 0 at i 2..3, j 1

    found = read_nifti(nifti_bytes(one_hot, nifti_affine(geometry), compress=False), geometry)

    assert [(number, name, int(volume.sum())) for number, name, volume in found] == [
        (1, "1", 6),
        (2, "2", 3),
    ]
    assert (found[0][2] & found[1][2]).sum() == 2


def test_read_nifti_takes_names_from_the_platforms_own_export(geometry: StackGeometry) -> None:
    organ = np.zeros((8, 32, 32), dtype=bool)
    organ[3, 4:8, 4:8] = True
    nodule = np.zeros((8, 32, 32), dtype=bool)
    nodule[5, 1, 1] = True
    exported = segments_to_nifti({2: organ, 5: nodule}, {2: "organ", 5: "nodule"}, geometry)

    found = read_labels(data=exported, geometry=geometry)[1]

    assert [(number, name) for number, name, _ in found] == [(2, "organ"), (5, "nodule")]
    assert np.array_equal(found[0][2], organ)
    assert np.array_equal(found[1][2], nodule)


# --- format detection ----------------------------------------------------------------------------


def test_detect_format_refuses_other_dicom_and_unknown_bytes() -> None:
    with pytest.raises(ImportRejectedError, match=r"is a CT object .* import a DICOM SEG"):
        detect_format(real_file("CT_small.dcm").read_bytes())
    with pytest.raises(ImportRejectedError, match=r"^Unrecognized file"):
        detect_format(b"%PDF-1.7 not labels")
    with pytest.raises(ImportRejectedError, match="must hold a NIfTI image"):
        detect_format(gzip.compress(b"hello"))


# --- label mapping -----------------------------------------------------------------------------

LABELS: list[dict[str, Any]] = [
    {"key": "nodule", "name": "Nodule", "kind": "mask"},
    {"key": "organ", "name": "Liver and spleen", "kind": "mask"},
    {"key": "quality", "name": "Quality", "kind": "ordinal"},
]


def test_map_segments_prefers_the_label_map_then_matches_keys_and_names() -> None:
    keys = map_segments(
        sources=[(1, "NODULE"), (2, "liver AND spleen"), (3, "Tumour"), (4, "x")],
        labels=LABELS,
        label_map={"Tumour": "nodule", "4": "organ"},
    )

    assert keys == ["nodule", "organ", "nodule", "organ"]


def test_map_segments_lists_the_mask_labels_for_unmapped_segments() -> None:
    with pytest.raises(ImportRejectedError) as error:
        map_segments(sources=[(1, "Nodule"), (2, "Spleen")], labels=LABELS)

    assert error.value.message.startswith("No mask label for segment(s) 2 'Spleen'.")
    assert "mask labels: nodule (Nodule), organ (Liver and spleen)." in error.value.message
    assert error.value.field == "label_map"


def test_map_segments_refuses_labels_of_another_kind_and_unknown_sources() -> None:
    with pytest.raises(ImportRejectedError, match="names quality, not mask labels"):
        map_segments(sources=[(1, "a")], labels=LABELS, label_map={"a": "quality"})
    with pytest.raises(ImportRejectedError, match="names 'b', which the file does not hold"):
        map_segments(sources=[(1, "a")], labels=LABELS, label_map={"a": "organ", "b": "organ"})


# --- the service -------------------------------------------------------------------------------


def counts() -> tuple[int, int, int, int]:
    return (
        Annotation.objects.count(),
        AnnotationSet.objects.filter(kind=SetKind.IMPORT).count(),
        AnnotationRevision.objects.count(),
        MaskChunk.objects.count(),
    )


def test_import_labels_stores_a_seg_as_an_import_mask(
    task: LabelingTask,
    manager: User,
    sources: list[Dataset],
    ct_stack: Stack,
    two_segment_masks: np.ndarray,
) -> None:
    data = seg_bytes(make_seg(sources, two_segment_masks, ["Nodule", "ORGAN"]))

    made = import_label_file(task=task, actor=manager, name="labels.dcm", data=data)

    annotation = made.annotation
    assert made.format == LabelFormat.SEG
    assert [(s.number, s.label, s.source_name, s.voxels) for s in made.segments] == [
        (1, "nodule", "Nodule", 90),
        (2, "organ", "ORGAN", 6),
    ]
    assert annotation.kind == "mask"
    assert annotation.source == Source.IMPORT
    assert annotation.stack_id == ct_stack.pk
    assert annotation.annotation_set.kind == SetKind.IMPORT
    assert annotation.annotation_set.task_id == task.pk
    assert annotation.data["segments"] == [
        {"number": 1, "label": "nodule", "attributes": {}},
        {"number": 2, "label": "organ", "attributes": {}},
    ]
    stored = read_annotation_segments(annotation)
    assert np.array_equal(stored[1], two_segment_masks[..., 0])
    assert np.array_equal(stored[2], two_segment_masks[..., 1])
    assert set(annotation.revisions.values_list("source", flat=True)) == {Source.IMPORT}
    event = AuditEvent.objects.get(action="annotation.import")
    assert event.object_id == str(annotation.pk)
    assert event.changes == {"format": [None, "seg"], "segments": [None, 2], "version": [None, 2]}


def test_import_labels_reuses_the_tasks_import_set(
    task: LabelingTask, manager: User, geometry: StackGeometry, label_map: np.ndarray
) -> None:
    data = nifti_bytes(label_map, nifti_affine(geometry))
    first = import_labels(
        task=task, actor=manager, name="a.nii.gz", data=data, label_map={"1": "organ", "3": "organ"}
    )
    second = import_labels(
        task=task,
        actor=manager,
        name="b.nii.gz",
        data=data,
        label_map={"1": "nodule", "3": "organ"},
    )

    assert first.annotation_set_id == second.annotation_set_id
    assert AnnotationSet.objects.filter(task=task, kind=SetKind.IMPORT).count() == 1
    assert second.data["segments"][0]["label"] == "nodule"
    assert second.label_key == "nodule"


def test_import_labels_rasterizes_an_rtstruct_by_roi_name(
    task: LabelingTask, manager: User, geometry: StackGeometry
) -> None:
    rtstruct = make_rtstruct({4: ("organ", [contour(geometry, square(2, 5), 6)])})

    annotation = import_labels(task=task, actor=manager, name="rs.dcm", data=to_bytes(rtstruct))

    volume = read_annotation_segments(annotation)[1]
    assert volume.sum() == 16
    assert volume[6, 2:6, 2:6].all()


def test_import_labels_stores_nothing_when_a_segment_is_unmapped(
    task: LabelingTask, manager: User, sources: list[Dataset], two_segment_masks: np.ndarray
) -> None:
    data = seg_bytes(make_seg(sources, two_segment_masks, ["Nodule", "Spleen"]))
    before = counts()

    with pytest.raises(ImportRejectedError, match=r"2 'Spleen'.*mask labels: nodule \(Nodule\)"):
        import_labels(task=task, actor=manager, name="x.dcm", data=data)

    assert counts() == before


def test_import_labels_rolls_back_when_writing_the_mask_fails(
    task: LabelingTask, manager: User, sources: list[Dataset], two_segment_masks: np.ndarray, mocker
) -> None:
    data = seg_bytes(make_seg(sources, two_segment_masks, ["Nodule", "Organ"]))
    mocker.patch.object(imports_module, "write_segments", side_effect=RuntimeError("disk full"))
    before = counts()

    with pytest.raises(RuntimeError):
        import_labels(task=task, actor=manager, name="x.dcm", data=data)

    assert counts() == before
    assert not AuditEvent.objects.filter(action="annotation.import").exists()


def test_import_labels_rejects_a_file_without_labelled_voxels(
    task: LabelingTask, manager: User, geometry: StackGeometry
) -> None:
    empty = np.zeros((32, 32, 8), dtype=np.uint8)

    with pytest.raises(ImportRejectedError, match="NIfTI label map holds no labelled voxels"):
        import_labels(
            task=task, actor=manager, name="x", data=nifti_bytes(empty, nifti_affine(geometry))
        )


def test_import_labels_refuses_readers_and_non_members(
    task: LabelingTask, reader: User, user: User, geometry: StackGeometry, label_map: np.ndarray
) -> None:
    data = nifti_bytes(label_map, nifti_affine(geometry))

    with pytest.raises(PermissionDeniedError):
        import_labels(task=task, actor=reader, name="x", data=data, label_map={"1": "organ"})
    with pytest.raises(NotFoundError):
        import_labels(task=task, actor=user, name="x", data=data, label_map={"1": "organ"})
    assert not Annotation.objects.exists()


def test_import_labels_refuses_files_over_the_limit(
    task: LabelingTask, manager: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imports_module, "MAX_IMPORT_BYTES", 1 << 20)

    with pytest.raises(ImportRejectedError, match="larger than 1 MiB"):
        import_labels(task=task, actor=manager, name="x", data=b"\0" * ((1 << 20) + 1))


@pytest.mark.parametrize("keyword", ["ReferencedROINumber", "ROINumber"])
def test_read_rtstruct_rejects_an_roi_without_its_number(
    geometry: StackGeometry, keyword: str
) -> None:
    rtstruct = make_rtstruct({1: ("GTV", [contour(geometry, square(4, 9), 2)])})
    items = (
        rtstruct.ROIContourSequence
        if keyword == "ReferencedROINumber"
        else (rtstruct.StructureSetROISequence)
    )
    del items[0][keyword]
    with pytest.raises(ImportRejectedError, match=f"without a valid {keyword}"):
        read_rtstruct(rtstruct, geometry)
