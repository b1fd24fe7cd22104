"""Tests for the synthetic DICOM builders and the sample library (no database)."""

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import FileDataset

from annotator.imaging import samples, synthetic

CT_ARGS = {"slices": 40, "size": 128, "spacing": (1.6, 1.6), "slice_thickness": 5.0, "seed": 3}


@pytest.fixture(scope="module")
def ct_series() -> list[FileDataset]:
    return synthetic.make_ct_series(**CT_ARGS)


@pytest.fixture(scope="module")
def ct_phantom() -> synthetic.CtPhantom:
    return synthetic.make_ct_phantom(
        slices=40, size=128, spacing=(1.6, 1.6), slice_spacing=5.0, seed=3
    )


@pytest.fixture(scope="module")
def mammograms() -> list[FileDataset]:
    return synthetic.make_mammogram_pair(seed=1)


def _hu(ds: FileDataset) -> np.ndarray:
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def _normal(ds: FileDataset) -> np.ndarray:
    orientation = np.array(ds.ImageOrientationPatient, dtype=float)
    return np.cross(orientation[:3], orientation[3:])


def test_make_ct_series_positions_step_along_normal(ct_series: list[FileDataset]) -> None:
    normal = _normal(ct_series[0])
    distances = [
        float(np.dot(np.array(ds.ImagePositionPatient, float), normal)) for ds in ct_series
    ]
    steps = np.diff(sorted(distances))
    assert steps == pytest.approx(np.full(len(steps), 5.0))
    assert float(ct_series[0].SpacingBetweenSlices) == pytest.approx(5.0)
    # Instance 1 is the most superior slice; position decreases with the instance number.
    numbers = [int(ds.InstanceNumber) for ds in ct_series]
    assert numbers == list(range(1, 41))
    assert distances == sorted(distances, reverse=True)
    for ds in ct_series:
        assert [float(v) for v in ds.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
        assert [float(v) for v in ds.PixelSpacing] == [1.6, 1.6]
        assert float(ds.SliceThickness) == pytest.approx(5.0)


def test_make_ct_series_shares_study_series_and_frame_uids(ct_series: list[FileDataset]) -> None:
    for attribute in ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID"):
        assert len({ds.data_element(attribute).value for ds in ct_series}) == 1
    assert len({ds.SOPInstanceUID for ds in ct_series}) == len(ct_series)


def test_make_ct_series_file_name_order_is_not_instance_order(
    ct_series: list[FileDataset],
) -> None:
    by_name = sorted(ct_series, key=lambda ds: f"{ds.SOPInstanceUID}.dcm")
    numbers = [int(ds.InstanceNumber) for ds in by_name]
    assert numbers not in (sorted(numbers), sorted(numbers, reverse=True))


def test_make_ct_series_anatomy_has_expected_hounsfield_units(
    ct_series: list[FileDataset], ct_phantom: synthetic.CtPhantom
) -> None:
    volume = np.stack([_hu(ds) for ds in ct_series])
    assert np.array_equal(volume, ct_phantom.hu)
    labels = {name: ct_phantom.labels == label for label, name in synthetic.CT_LABELS.items()}
    assert volume[labels["lung"]].mean() < -700
    assert volume[labels["bone"]].mean() > 300
    assert volume[labels["body"]].mean() > -100
    assert volume[labels["background"]].mean() == pytest.approx(-1000, abs=5)
    assert volume[labels["aorta"]].mean() == pytest.approx(200, abs=10)
    assert volume[labels["liver"]].mean() == pytest.approx(60, abs=10)
    assert ct_phantom.nodules
    nodule = next(label for label, name in synthetic.CT_LABELS.items() if name == "nodule")
    for k, r, c, diameter in ct_phantom.nodules:
        assert 4 <= diameter <= 12
        assert ct_phantom.labels[k, r, c] == nodule
        assert volume[k, r, c] == pytest.approx(30, abs=60)


def test_make_ct_series_header_is_ct_with_presets(ct_series: list[FileDataset]) -> None:
    ds = ct_series[0]
    assert ds.Modality == "CT"
    assert ds.BodyPartExamined == "CHEST"
    assert ds.PhotometricInterpretation == "MONOCHROME2"
    assert ds.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert [float(v) for v in ds.WindowCenter] == [40, -600]
    assert [float(v) for v in ds.WindowWidth] == [400, 1500]
    assert float(ds.RescaleIntercept) == -1024
    assert ds.pixel_array.dtype == np.int16
    assert str(ds.PatientName).startswith("PHANTOM^")


def test_write_datasets_round_trips_through_dcmread(
    tmp_path: Path, ct_series: list[FileDataset]
) -> None:
    paths = synthetic.write_datasets(ct_series[:5], tmp_path)
    assert [p.name for p in paths] == [f"{ds.SOPInstanceUID}.dcm" for ds in ct_series[:5]]
    for path, original in zip(paths, ct_series, strict=False):
        read = pydicom.dcmread(path)
        assert read.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
        assert read.SOPInstanceUID == original.SOPInstanceUID
        assert np.array_equal(read.pixel_array, original.pixel_array)
        assert np.array_equal(_hu(read), _hu(original))


def test_write_datasets_keeps_existing_files(tmp_path: Path) -> None:
    ds = synthetic.make_xray(size=(64, 48))
    (path,) = synthetic.write_datasets([ds], tmp_path)
    path.write_bytes(b"sentinel")
    assert synthetic.write_datasets([ds], tmp_path) == [path]
    assert path.read_bytes() == b"sentinel"


def test_make_ct_series_sorts_by_geometry_in_simpleitk(
    tmp_path: Path, ct_series: list[FileDataset], ct_phantom: synthetic.CtPhantom
) -> None:
    sitk = pytest.importorskip("SimpleITK")
    synthetic.write_datasets(ct_series, tmp_path)
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(tmp_path)))
    image = reader.Execute()
    assert image.GetSize() == (128, 128, 40)
    assert image.GetSpacing() == pytest.approx((1.6, 1.6, 5.0))
    assert image.GetDirection() == pytest.approx((1, 0, 0, 0, 1, 0, 0, 0, 1))
    # GDCM orders slices inferior to superior: the phantom's last slice comes first.
    assert image.GetOrigin()[2] == pytest.approx(min(float(ds.SliceLocation) for ds in ct_series))
    assert np.array_equal(sitk.GetArrayFromImage(image), ct_phantom.hu[::-1])


def test_make_xray_is_12_bit_dx_with_03_mm_pixels() -> None:
    ds = synthetic.make_xray(laterality="L")
    assert ds.Modality == "DX"
    assert ds.SOPClassUID == pydicom.uid.DigitalXRayImageStorageForPresentation
    assert (ds.Rows, ds.Columns) == (512, 420)
    assert [float(v) for v in ds.PixelSpacing] == [0.3, 0.3]
    assert [float(v) for v in ds.ImagerPixelSpacing] == [0.3, 0.3]
    assert (ds.BitsAllocated, ds.BitsStored, ds.PixelRepresentation) == (16, 12, 0)
    assert ds.ViewPosition == "PA"
    assert ds.BodyPartExamined == "CHEST"
    assert ds.ImageLaterality == "L"
    assert ds.PhotometricInterpretation == "MONOCHROME2"
    assert ds.pixel_array.max() <= 4095
    assert float(ds.WindowWidth) > 0


def test_make_mammogram_pair_has_laterality_and_view_codes(
    mammograms: list[FileDataset],
) -> None:
    codes = {"CC": "399162004", "MLO": "399368009"}
    seen = {(ds.ImageLaterality, ds.ViewPosition) for ds in mammograms}
    assert seen == {("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO")}
    assert len({ds.StudyInstanceUID for ds in mammograms}) == 1
    for ds in mammograms:
        assert ds.Modality == "MG"
        assert ds.PresentationIntentType == "FOR PRESENTATION"
        assert ds.BreastImplantPresent == "NO"
        assert ds.BitsStored == 12
        view = ds.ViewCodeSequence[0]
        assert (view.CodeValue, view.CodingSchemeDesignator) == (codes[ds.ViewPosition], "SCT")
    inverted = [ds for ds in mammograms if ds.PhotometricInterpretation == "MONOCHROME1"]
    assert inverted
    assert all(ds.PresentationLUTShape == "INVERSE" for ds in inverted)


def test_make_mammogram_pair_puts_chest_wall_on_the_conventional_side(
    mammograms: list[FileDataset],
) -> None:
    for ds in mammograms:
        tissue = ds.pixel_array.astype(float)
        if ds.PhotometricInterpretation == "MONOCHROME1":
            tissue = 4095 - tissue
        first, last = tissue[:, :8].mean(), tissue[:, -8:].mean()
        # Right breast: chest wall (all tissue) on the image's right; left breast: on the left.
        assert (last > first) == (ds.ImageLaterality == "R")
        assert ds.PatientOrientation[0] == ("P" if ds.ImageLaterality == "R" else "A")


@pytest.mark.parametrize(("color", "photometric"), [(False, "MONOCHROME2"), (True, "RGB")])
def test_make_ultrasound_cine_is_multiframe_with_frame_time(color: bool, photometric: str) -> None:
    ds = synthetic.make_ultrasound_cine(frames=12, color=color)
    assert ds.Modality == "US"
    assert ds.NumberOfFrames == 12
    assert float(ds.FrameTime) == pytest.approx(40.0)
    assert ds.FrameIncrementPointer == pydicom.tag.Tag("FrameTime")
    assert ds.PhotometricInterpretation == photometric
    assert ds.BurnedInAnnotation == "YES"
    frames = ds.pixel_array
    assert frames.shape[:3] == (12, 480, 640)
    assert frames.dtype == np.uint8
    assert not np.array_equal(frames[0], frames[6])
    assert frames[0, :40, :120].max() >= 240  # burned-in text in the top-left corner
    region = ds.SequenceOfUltrasoundRegions[0]
    assert region.PhysicalDeltaX == pytest.approx(0.01)


def test_builders_with_uid_seed_are_deterministic(tmp_path: Path) -> None:
    def build() -> list[FileDataset]:
        return [
            *synthetic.make_ct_series(slices=3, size=32, uid_seed="t"),
            synthetic.make_xray(size=(64, 48), uid_seed="t"),
            *synthetic.make_mammogram_pair(size=(160, 128), uid_seed="t"),
            synthetic.make_ultrasound_cine(frames=2, size=(120, 160), uid_seed="t"),
        ]

    first = synthetic.write_datasets(build(), tmp_path / "a")
    second = synthetic.write_datasets(build(), tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    assert all(a.read_bytes() == b.read_bytes() for a, b in zip(first, second, strict=True))
    fresh = synthetic.make_xray(size=(64, 48))
    assert fresh.SOPInstanceUID != build()[3].SOPInstanceUID


def test_build_sample_library_writes_manifest_and_skips_existing(tmp_path: Path) -> None:
    result = samples.build_sample_library(tmp_path, ct_slices=4)
    manifest = (tmp_path / "MANIFEST.json").read_text()
    assert set(result) == {
        "pydicom",
        "synthetic/ct-chest",
        "synthetic/xray-chest",
        "synthetic/mammo-screening",
        "synthetic/us-thyroid",
    }
    assert len(result["synthetic/ct-chest"]) == 4
    assert "CT_small.dcm" in {p.name for p in result["pydicom"]}
    assert '"modality": "MG"' in manifest
    assert all(p.is_file() for paths in result.values() for p in paths)

    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()}
    assert samples.build_sample_library(tmp_path, ct_slices=4) == result
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.is_file()} == stamps
