"""Windowing, reslicing, resizing and encoding of `annotator.imaging.render` (pure, no DB)."""

import io
import math

import numpy as np
import pytest
from PIL import Image

from annotator.imaging.render import (
    Plane,
    Window,
    apply_window,
    display_aspect,
    encode,
    extract_slice,
    percentile_window,
    preset_window,
    render_slice,
    thumbnail,
)

# Every dtype path: LUT (8/16-bit integers) and float64 evaluation (floats, wider integers).
DTYPES = [np.int16, np.int32, np.float32, np.float64]


def _window(values: list[float], window: Window, dtype: type = np.float64) -> list[int]:
    return apply_window(np.array(values, dtype=dtype), window).tolist()


@pytest.mark.parametrize("dtype", DTYPES)
def test_apply_window_linear_matches_hand_values(dtype: type) -> None:
    # c=40, w=400: 0 at or below c - 0.5 - (w-1)/2 = -160, 255 above c - 0.5 + (w-1)/2 = 239;
    # 40 -> ((40 - 39.5)/399 + 0.5)*255 = 127.82 -> 128; 39 -> 127.18 -> 127; 238 -> 254.36.
    window = Window(center=40, width=400)
    values = [-1000, -161, -160, 39, 40, 238, 239, 240, 3000]
    assert _window(values, window, dtype) == [0, 0, 0, 127, 128, 254, 255, 255, 255]


def test_apply_window_linear_rounds_half_up_at_center_minus_half() -> None:
    # c=0, w=2: x=-0.5 = c - 0.5 gives y = 0.5*255 = 127.5 -> 128; -1 is the lower bound.
    window = Window(center=0, width=2)
    assert _window([-1.5, -1, -0.5, 0, 0.5], window) == [0, 0, 128, 255, 255]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_apply_window_linear_width_one_is_a_threshold_at_center_minus_half(dtype: type) -> None:
    window = Window(center=100, width=1)
    assert _window([99, 99.5, 99.75, 100, 101], window, dtype) == [0, 0, 255, 255, 255]
    assert _window([99, 100], window, np.int16) == [0, 255]


@pytest.mark.parametrize("dtype", DTYPES)
def test_apply_window_linear_exact_matches_hand_values(dtype: type) -> None:
    # y = ((x - c)/w + 0.5)*255: 25 -> 191.25 -> 191, -25 -> 63.75 -> 64, 0 -> 127.5 -> 128.
    window = Window(center=0, width=100, function="LINEAR_EXACT")
    values = [-51, -50, -25, 0, 25, 50, 51]
    assert _window(values, window, dtype) == [0, 0, 64, 128, 191, 255, 255]


@pytest.mark.parametrize("dtype", DTYPES)
def test_apply_window_sigmoid_matches_hand_values(dtype: type) -> None:
    # y = 255 / (1 + exp(-4(x - c)/w)): 25 -> 255/(1 + e^-1) = 186.4; -25 -> 255/(1 + e) = 68.6;
    # 100 -> 255/(1 + e^-4) = 250.4; far below c the exponential overflows to y = 0.
    window = Window(center=0, width=100, function="SIGMOID")
    values = [-30000, -25, 0, 25, 100, 30000]
    assert _window(values, window, dtype) == [0, 69, 128, 186, 250, 255]
    assert round(255 / (1 + math.exp(-1))) == 186


def test_apply_window_invert_mirrors_output() -> None:
    pixels = np.arange(-200, 300, 7, dtype=np.int16)
    window = Window(center=40, width=400)
    assert (apply_window(pixels, window, invert=True) == 255 - apply_window(pixels, window)).all()
    floats = pixels.astype(np.float32)
    assert (apply_window(floats, window, invert=True) == 255 - apply_window(floats, window)).all()


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
def test_apply_window_lookup_table_agrees_with_float_path(function: str) -> None:
    rng = np.random.default_rng(1)
    window = Window(center=37.5, width=123.0, function=function)
    for dtype in (np.int16, np.uint16, np.uint8, np.int8):
        info = np.iinfo(dtype)
        pixels = rng.integers(info.min, info.max, size=(32, 32), endpoint=True).astype(dtype)
        table = apply_window(pixels, window)
        assert table.dtype == np.uint8
        assert table.shape == pixels.shape
        assert (table == apply_window(pixels.astype(np.float64), window)).all()


def _reference(x: np.ndarray, window: Window) -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2, written case by case as in the standard (ymin 0, ymax 255)."""
    c, w = window.center, window.width
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if window.function == "SIGMOID":
            y = 255 / (1 + np.exp(-4 * (x - c) / w))
        elif window.function == "LINEAR_EXACT":
            ramp = ((x - c) / w + 0.5) * 255
            y = np.where(x <= c - w / 2, 0, np.where(x > c + w / 2, 255, ramp))
        else:
            ramp = ((x - (c - 0.5)) / (w - 1) + 0.5) * 255
            low, high = c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2
            y = np.where(x <= low, 0, np.where(x > high, 255, ramp))
    return np.floor(y + 0.5).astype(np.uint8)


@pytest.mark.parametrize("function", ["LINEAR", "LINEAR_EXACT", "SIGMOID"])
@pytest.mark.parametrize("shape", [(70_000,), (300, 77), (5, 61, 67)])
def test_apply_window_matches_the_standard_on_large_float_arrays(function, shape) -> None:
    # Sizes above the 16k-value block, with a partial last block, in 1, 2 and 3 dimensions.
    pixels = np.random.default_rng(5).normal(30, 300, size=shape).astype(np.float32)
    window = Window(center=30.25, width=250.5, function=function)
    expected = _reference(pixels.astype(np.float64), window)
    assert (apply_window(pixels, window) == expected).all()
    strided = pixels[..., ::2]
    assert (apply_window(strided, window) == expected[..., ::2]).all()


def test_apply_window_maps_nan_to_black() -> None:
    assert _window([math.nan, 1000], Window(center=0, width=100)) == [0, 255]


def test_window_validates_function_and_width() -> None:
    assert Window(1, 2, "sigmoid").function == "SIGMOID"
    with pytest.raises(ValueError, match="function"):
        Window(0, 10, "LOG")
    with pytest.raises(ValueError, match="at least 1"):
        Window(0, 0.5)
    with pytest.raises(ValueError, match="positive"):
        Window(0, 0, "LINEAR_EXACT")
    with pytest.raises(ValueError, match="finite"):
        Window(math.nan, 10)
    assert Window(0, 0.5, "LINEAR_EXACT").width == 0.5


@pytest.mark.parametrize(
    ("name", "center", "width"),
    [("Lung", -600, 1500), ("bone", 400, 1800), ("Mediastinum", 50, 350), ("BRAIN", 40, 80)],
)
def test_preset_window_selects_ct_presets(name: str, center: float, width: float) -> None:
    window = preset_window("CT", name, [], np.zeros((4, 4), np.int16))
    assert window == Window(center=center, width=width)


def test_preset_window_defaults_to_the_modality_initial_window() -> None:
    pixels = np.arange(100, dtype=np.int16).reshape(10, 10)
    header = [Window(300, 600), Window(50, 100)]
    assert preset_window("CT", None, header, pixels) == Window(40, 400)  # "Soft tissue"
    # MR starts from percentiles of the image (its intensities have no absolute scale).
    assert preset_window("MR", None, header, pixels) == percentile_window(pixels)
    assert preset_window("MR", "header", header, pixels) == Window(300, 600)
    assert preset_window("MR", None, [], pixels) == percentile_window(pixels)
    assert preset_window("CT", "header", header, pixels) == Window(300, 600)
    assert preset_window("CT", "auto", header, pixels) == percentile_window(pixels)
    assert preset_window("OT", None, [], pixels) == percentile_window(pixels)


def test_preset_window_uses_project_display_overrides() -> None:
    display = {
        "initial_window": "Wide",
        "window_presets": [{"name": "Wide", "center": 0, "width": 4000}],
    }
    pixels = np.zeros((2, 2), np.int16)
    assert preset_window("CT", None, [], pixels, display=display) == Window(0, 4000)
    with pytest.raises(ValueError, match="Lung"):
        preset_window("CT", "Lung", [], pixels, display=display)


def test_preset_window_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="Abdomen XL"):
        preset_window("CT", "Abdomen XL", [], np.zeros((2, 2), np.int16))
    with pytest.raises(ValueError, match="Lung"):
        preset_window("MR", "Lung", [], np.zeros((2, 2), np.int16))


def test_percentile_window_spans_the_percentiles_of_an_mr_like_image() -> None:
    rng = np.random.default_rng(0)
    # MR-like: a dark background (60%) and tissue around 600 with a few bright outliers.
    image = np.where(
        rng.random((64, 64)) < 0.6, rng.normal(5, 2, (64, 64)), rng.normal(600, 80, (64, 64))
    )
    image[0, :5] = 5000
    pixels = np.clip(image, 0, None).astype(np.int16)
    lo, hi = np.percentile(pixels, [0.5, 99.5])  # small enough: no sampling
    window = percentile_window(pixels)
    assert window.function == "LINEAR_EXACT"
    assert window.center == pytest.approx((lo + hi) / 2)
    assert window.width == pytest.approx(hi - lo)
    assert hi < 5000  # the outliers do not stretch the window
    rendered = apply_window(pixels, window)
    assert rendered[pixels <= lo].max() == 0
    assert rendered[pixels >= hi].min() == 255


def test_percentile_window_samples_large_volumes_closely() -> None:
    rng = np.random.default_rng(2)
    volume = rng.gamma(2.0, 150.0, size=(40, 128, 128)).astype(np.float32)
    exact_lo, exact_hi = np.percentile(volume, [1, 99])
    window = percentile_window(volume, 1, 99)
    lo, hi = window.center - window.width / 2, window.center + window.width / 2
    assert lo == pytest.approx(exact_lo, rel=0.1)
    assert hi == pytest.approx(exact_hi, rel=0.03)


def test_percentile_window_handles_flat_and_invalid_input() -> None:
    assert percentile_window(np.full((3, 3), 7.0)).width > 0
    nan_and_values = np.array([np.nan, 1.0, 2.0, np.inf])
    assert math.isfinite(percentile_window(nan_and_values).center)
    with pytest.raises(ValueError, match="finite"):
        percentile_window(np.array([np.nan]))
    with pytest.raises(ValueError, match="low < high"):
        percentile_window(np.zeros(3), 50, 50)


@pytest.fixture
def volume() -> np.ndarray:
    return np.arange(10 * 20 * 30, dtype=np.int16).reshape(10, 20, 30)


@pytest.mark.parametrize(
    ("plane", "index", "expected"),
    [
        (Plane.AXIAL, 3, lambda v: v[3]),
        (Plane.CORONAL, 7, lambda v: v[:, 7, :]),
        (Plane.SAGITTAL, 29, lambda v: v[:, :, 29]),
    ],
)
def test_extract_slice_matches_numpy_indexing(volume, plane, index, expected) -> None:
    assert (extract_slice(volume, plane, index) == expected(volume)).all()
    assert extract_slice(volume, plane, index).shape == expected(volume).shape


@pytest.mark.parametrize(("plane", "size"), [("axial", 10), ("coronal", 20), ("sagittal", 30)])
def test_extract_slice_rejects_out_of_range_index(volume, plane, size) -> None:
    extract_slice(volume, Plane(plane), size - 1)
    for index in (-1, size):
        with pytest.raises(IndexError, match=plane):
            extract_slice(volume, Plane(plane), index)


def test_extract_slice_rejects_non_volumes() -> None:
    with pytest.raises(ValueError, match="slices, rows, columns"):
        extract_slice(np.zeros((4, 4)), Plane.AXIAL, 0)
    with pytest.raises(ValueError, match="slices, rows, columns"):
        extract_slice(np.zeros((2, 4, 4, 4)), Plane.AXIAL, 0)


def test_extract_slice_reads_memory_maps(tmp_path, volume) -> None:
    np.save(tmp_path / "v.npy", volume)
    mapped = np.load(tmp_path / "v.npy", mmap_mode="r")
    assert (extract_slice(mapped, Plane.SAGITTAL, 4) == volume[:, :, 4]).all()


def test_display_aspect_per_plane() -> None:
    spacing = (0.7, 0.8, 2.5)  # column, row, slice
    assert display_aspect(spacing, Plane.AXIAL) == pytest.approx(0.8 / 0.7)
    assert display_aspect(spacing, Plane.CORONAL) == pytest.approx(2.5 / 0.7)
    assert display_aspect(spacing, Plane.SAGITTAL) == pytest.approx(2.5 / 0.8)
    with pytest.raises(ValueError, match="Spacing"):
        display_aspect((1.0, 0.0, 1.0), Plane.AXIAL)


def test_render_slice_stretches_the_slice_axis_to_square_pixels(volume) -> None:
    spacing = (0.5, 0.5, 2.0)
    window = Window(3000, 6000)
    assert render_slice(volume, Plane.AXIAL, 0, window, spacing=spacing).shape == (20, 30)
    assert render_slice(volume, Plane.CORONAL, 0, window, spacing=spacing).shape == (40, 30)
    assert render_slice(volume, Plane.SAGITTAL, 0, window, spacing=spacing).shape == (40, 20)
    # Rows finer than columns: widen the columns instead of dropping rows.
    assert render_slice(volume, Plane.AXIAL, 0, window, spacing=(1.0, 0.5, 1.0)).shape == (20, 60)


def test_render_slice_puts_the_last_slice_on_top_of_reformats(volume) -> None:
    window = Window(3000, 6000, "LINEAR_EXACT")
    coronal = render_slice(volume, Plane.CORONAL, 5, window, spacing=(1, 1, 1))
    assert (coronal == apply_window(volume[::-1, 5, :], window)).all()
    sagittal = render_slice(volume, Plane.SAGITTAL, 5, window, spacing=(1, 1, 1), invert=True)
    assert (sagittal == apply_window(volume[::-1, :, 5], window, invert=True)).all()
    axial = render_slice(volume, Plane.AXIAL, 5, window, spacing=(1, 1, 1))
    assert (axial == apply_window(volume[5], window)).all()


def test_render_slice_downscales_to_max_size() -> None:
    volume = np.zeros((4, 64, 128), np.int16)
    window = Window(0, 100)
    square = (1, 1, 1)
    axial = render_slice(volume, Plane.AXIAL, 0, window, spacing=square, max_size=32)
    assert axial.shape == (16, 32)
    coronal = render_slice(volume, Plane.CORONAL, 0, window, spacing=(1, 1, 8), max_size=64)
    assert coronal.shape == (16, 64)  # 4 slices x 8 = 32 rows x 128 columns, halved
    small = render_slice(volume, Plane.AXIAL, 0, window, spacing=square, max_size=512)
    assert small.shape == (64, 128)  # never enlarged to reach max_size
    with pytest.raises(ValueError, match="max_size"):
        render_slice(volume, Plane.AXIAL, 0, window, spacing=square, max_size=0)


def test_render_slice_interpolates_reformats_bilinearly() -> None:
    volume = np.zeros((2, 1, 4), np.uint8)
    volume[1] = 200  # the top row after the flip
    rows = render_slice(
        volume, Plane.CORONAL, 0, Window(127.5, 256, "LINEAR_EXACT"), spacing=(1, 1, 4)
    )[:, 0]
    assert rows.shape == (8,)
    assert rows[0] == 200
    assert rows[-1] == 0
    assert (np.diff(rows.astype(int)) <= 0).all()
    assert 0 < rows[3] < 200  # a ramp, not a step


def test_render_slice_without_window_uses_slice_percentiles(volume) -> None:
    rendered = render_slice(volume, Plane.AXIAL, 2, None, spacing=(1, 1, 1))
    assert rendered.min() == 0
    assert rendered.max() == 255


def test_render_slice_passes_rgb_through_unwindowed() -> None:
    rng = np.random.default_rng(3)
    cine = rng.integers(0, 256, size=(3, 8, 12, 3), dtype=np.uint8)
    frame = render_slice(cine, Plane.AXIAL, 1, Window(0, 1), spacing=(1, 1, 1), invert=True)
    assert frame.shape == (8, 12, 3)
    assert (frame == cine[1]).all()
    wide = render_slice(cine, Plane.AXIAL, 1, None, spacing=(1, 2, 1))
    assert wide.shape == (16, 12, 3)
    with pytest.raises(ValueError, match="uint8"):
        render_slice(cine.astype(np.int16), Plane.AXIAL, 0, None, spacing=(1, 1, 1))


def test_render_slice_rejects_out_of_range_index(volume) -> None:
    with pytest.raises(IndexError):
        render_slice(volume, Plane.CORONAL, 20, Window(0, 10), spacing=(1, 1, 1))


@pytest.mark.parametrize("shape", [(37, 53), (37, 53, 3), (1, 1), (300, 512)])
def test_encode_png_round_trips_losslessly_through_pillow(shape) -> None:
    image = np.random.default_rng(4).integers(0, 256, size=shape, dtype=np.uint8)
    decoded = Image.open(io.BytesIO(encode(image, "png")))
    assert decoded.format == "PNG"
    assert decoded.mode == ("RGB" if len(shape) == 3 else "L")
    assert decoded.size == (shape[1], shape[0])
    assert (np.asarray(decoded) == image).all()


@pytest.mark.parametrize("shape", [(64, 96), (64, 96, 3)])
def test_encode_jpeg_round_trips_through_pillow(shape) -> None:
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    gradient = ((xx + yy) * 255 // (shape[0] + shape[1])).astype(np.uint8)
    image = np.repeat(gradient[..., None], 3, axis=2) if len(shape) == 3 else gradient
    decoded = Image.open(io.BytesIO(encode(image, "JPEG", quality=90)))
    assert decoded.format == "JPEG"
    assert decoded.mode == ("RGB" if len(shape) == 3 else "L")
    assert decoded.size == (shape[1], shape[0])
    assert np.abs(np.asarray(decoded).astype(int) - image).mean() < 2


def test_encode_rejects_bad_input() -> None:
    image = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError, match="format"):
        encode(image, "gif")
    with pytest.raises(ValueError, match="quality"):
        encode(image, "jpeg", quality=0)
    with pytest.raises(ValueError, match="uint8"):
        encode(image.astype(np.int16))
    with pytest.raises(ValueError, match="3 channels"):
        encode(np.zeros((4, 4, 4), np.uint8))


def test_thumbnail_is_a_jpeg_of_the_middle_slice() -> None:
    volume = np.zeros((5, 300, 200), np.int16)
    volume[2] = 1000  # only the middle slice is bright
    data = thumbnail(volume, spacing=(1, 1, 3), window=Window(500, 1000), size=128)
    decoded = Image.open(io.BytesIO(data))
    assert decoded.format == "JPEG"
    assert decoded.size == (85, 128)
    assert np.asarray(decoded).min() > 240


def test_thumbnail_of_an_rgb_cine() -> None:
    cine = np.full((1, 40, 60, 3), (200, 10, 10), np.uint8)
    decoded = Image.open(io.BytesIO(thumbnail(cine, spacing=(1, 1, 1), window=None, size=30)))
    assert decoded.mode == "RGB"
    assert decoded.size == (30, 20)
