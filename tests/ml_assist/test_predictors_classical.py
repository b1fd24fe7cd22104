"""Built-in classical predictors: Dice against a phantom's truth, and sane masks on real files."""

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_rescale

from annotator.imaging.synthetic import make_ct_phantom, make_xray
from ml_assist.predictors.base import PredictorError, VolumeInput
from ml_assist.predictors.classical import BUILTINS, ClassicalPredictor
from tests.imaging.dicom_files import real_file

THORAX = {"body": "body", "lungs": "lung", "bone": "bone"}


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b)))


@pytest.fixture(scope="module")
def phantom() -> object:
    return make_ct_phantom(slices=24, size=128, nodules=2, seed=3)


def _phantom_input(phantom: object) -> VolumeInput:
    k, j, i = phantom.spacing  # type: ignore[attr-defined]
    return VolumeInput(
        array=phantom.hu.astype(np.float32),  # type: ignore[attr-defined]
        spacing=(i, j, k),
        modality="CT",
    )


def test_ct_thorax_matches_the_phantom_truth(phantom: object) -> None:
    steps: list[tuple[int, int]] = []
    result = ClassicalPredictor("ct_thorax", THORAX).predict(
        _phantom_input(phantom), progress=lambda done, total: steps.append((done, total))
    )
    labels = phantom.labels  # type: ignore[attr-defined]
    assert _dice(result.masks["body"], labels > 0) > 0.97
    lungs = (labels == 2) | (labels == 6)  # nodules sit inside the lungs
    assert _dice(result.masks["lung"], lungs) > 0.95
    assert _dice(result.masks["bone"], labels == 3) > 0.85
    assert not (result.masks["lung"] & ~result.masks["body"]).any()
    assert steps == [(0, 24), (24, 24)]
    assert all(m.dtype == np.bool_ and m.shape == labels.shape for m in result.masks.values())


def test_single_output_builtins_agree_with_the_combined_one(phantom: object) -> None:
    volume = _phantom_input(phantom)
    combined = ClassicalPredictor("ct_thorax", THORAX).predict(volume).masks
    for key, output, label in (("ct_body", "body", "body"), ("ct_lungs", "lungs", "lung")):
        alone = ClassicalPredictor(key, {output: label}).predict(volume).masks
        assert list(alone) == [label]
        assert np.array_equal(alone[label], combined[label])


def test_two_outputs_mapped_to_one_label_are_united(phantom: object) -> None:
    masks = (
        ClassicalPredictor("ct_thorax", {"lungs": "air", "bone": "air"})
        .predict(_phantom_input(phantom))
        .masks
    )
    labels = phantom.labels  # type: ignore[attr-defined]
    assert list(masks) == ["air"]
    assert masks["air"][labels == 3].mean() > 0.85
    assert masks["air"][labels == 2].mean() > 0.95


def test_unknown_builtin_or_output_is_refused() -> None:
    with pytest.raises(PredictorError, match="Unknown built-in"):
        ClassicalPredictor("ct_brain", {"brain": "brain"})
    with pytest.raises(PredictorError, match="outputs"):
        ClassicalPredictor("ct_body", {"lungs": "lung"})


def test_a_volume_of_the_wrong_rank_is_refused() -> None:
    with pytest.raises(PredictorError, match="slices, rows, columns"):
        ClassicalPredictor("otsu_foreground", {"foreground": "fg"}).predict(
            VolumeInput(array=np.zeros((4, 4), np.float32), spacing=(1, 1, 1), modality="MR")
        )


def _real(name: str) -> np.ndarray:
    ds = pydicom.dcmread(real_file(name))
    array = ds.pixel_array.astype(np.float32)
    if int(ds.get("SamplesPerPixel", 1)) == 3:
        array = array @ np.asarray([0.299, 0.587, 0.114], dtype=np.float32)
    if "RescaleSlope" in ds:
        array = apply_rescale(array, ds).astype(np.float32)
    return array[None] if array.ndim == 2 else array


def _sensible(mask: np.ndarray, low: float = 0.02, high: float = 0.98) -> float:
    share = float(mask.mean())
    assert low < share < high, share
    return share


def test_real_ct_gives_a_body_with_bone_inside() -> None:
    hu = _real("CT_small.dcm")
    result = ClassicalPredictor("ct_thorax", THORAX).predict(
        VolumeInput(array=hu, spacing=(0.66, 0.66, 5.0), modality="CT")
    )
    body = _sensible(result.masks["body"])
    bone = _sensible(result.masks["bone"], low=0.005)
    assert bone < body
    assert np.median(hu[result.masks["body"]]) > -200  # soft tissue, not air
    assert not (result.masks["bone"] & ~(hu >= 250)).any()


@pytest.mark.parametrize(
    ("name", "modality"),
    [
        ("MR_small.dcm", "MR"),
        ("examples_rgb_color.dcm", "US"),  # a colour ultrasound frame
        ("examples_ybr_color.dcm", "US"),  # a 30-frame ultrasound cine
    ],
)
def test_otsu_foreground_on_real_images(name: str, modality: str) -> None:
    array = _real(name)
    mask = (
        ClassicalPredictor("otsu_foreground", {"foreground": "fg"})
        .predict(VolumeInput(array=array, spacing=(1.0, 1.0, 1.0), modality=modality))
        .masks["fg"]
    )
    _sensible(mask)
    assert array[mask].mean() > array[~mask].mean()  # the foreground is the brighter part


def test_otsu_foreground_on_a_chest_xray() -> None:
    # pydicom ships no DX/CR file, so the X-ray is the synthetic PA chest.
    ds = make_xray()
    array = ds.pixel_array.astype(np.float32)[None]
    if ds.PhotometricInterpretation == "MONOCHROME1":
        array = array.max() - array
    mask = (
        ClassicalPredictor("otsu_foreground", {"foreground": "fg"})
        .predict(VolumeInput(array=array, spacing=(1.0, 1.0, 1.0), modality="DX"))
        .masks["fg"]
    )
    _sensible(mask)


def test_every_builtin_declares_what_it_reads() -> None:
    assert set(BUILTINS) == {"ct_body", "ct_lungs", "ct_bone", "ct_thorax", "otsu_foreground"}
    assert all(b.outputs and b.modalities and b.description for b in BUILTINS.values())


@pytest.mark.parametrize("radius", [1, 2])
def test_in_plane_morphology_matches_simpleitk_box_kernels(radius: int) -> None:
    import SimpleITK

    from ml_assist.predictors.classical import _box_in_plane

    mask = np.random.default_rng(radius).random((3, 24, 20)) > 0.7
    image = SimpleITK.GetImageFromArray(mask.astype(np.uint8))
    kernel = [radius, radius, 0]
    grown = SimpleITK.BinaryDilate(image, kernel, SimpleITK.sitkBox)
    shrunk = SimpleITK.BinaryErode(image, kernel, SimpleITK.sitkBox, boundaryToForeground=True)
    assert np.array_equal(
        _box_in_plane(mask, radius, grow=True), SimpleITK.GetArrayFromImage(grown) > 0
    )
    assert np.array_equal(
        _box_in_plane(mask, radius, grow=False), SimpleITK.GetArrayFromImage(shrunk) > 0
    )
