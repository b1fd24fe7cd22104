"""Region growing from a click or a box (pure function, no database)."""

import numpy as np
import pytest

from ml_assist.interactive import RegionInputError, RegionOptions, grow_region
from tests.ml_assist.interactive_phantom import disc_truth

SIZE = 128
CENTRE = (70, 60)
RADIUS = 25.0


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


def _image(truth: np.ndarray, *, noise: float = 12.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.where(truth, 200.0, 40.0) + rng.normal(0.0, noise, truth.shape)


@pytest.fixture
def truth() -> np.ndarray:
    return disc_truth(size=SIZE, centre=CENTRE, radius=RADIUS)


def test_grow_region_from_a_click_covers_the_disc(truth: np.ndarray) -> None:
    result = grow_region(_image(truth), point=CENTRE, spacing=(0.7, 0.5))
    assert _dice(result.mask, truth) > 0.95
    assert result.pixels == int(result.mask.sum())
    assert result.area_mm2 == pytest.approx(result.pixels * 0.35)
    i0, _, _, j1 = result.bbox or (0, 0, 0, 0)
    assert abs(i0 - (CENTRE[0] - RADIUS)) <= 2
    assert abs(j1 - (CENTRE[1] + RADIUS)) <= 2


def test_grow_region_on_a_noiseless_disc_reaches_its_edge(truth: np.ndarray) -> None:
    # ITK's ConfidenceConnected sees std 0 here and keeps only the exactly equal pixels;
    # the std floor and the edge snap must still find the whole disc.
    result = grow_region(_image(truth, noise=0.0), point=CENTRE)
    assert _dice(result.mask, truth) > 0.95


def test_grow_region_fills_holes(truth: np.ndarray) -> None:
    image = _image(truth)
    j, i = np.ogrid[:SIZE, :SIZE]
    hole = (i - CENTRE[0]) ** 2 + (j - CENTRE[1]) ** 2 <= 6**2
    image[hole] = -500.0  # a dark spot inside the disc (a calcification's opposite)
    result = grow_region(image, point=(CENTRE[0] + 15, CENTRE[1]))
    assert result.mask[hole].all()
    assert _dice(result.mask, truth) > 0.95


def test_grow_region_does_not_leak_through_a_one_pixel_bridge() -> None:
    left = disc_truth(size=SIZE, centre=(35, 64), radius=18)
    right = disc_truth(size=SIZE, centre=(95, 64), radius=18)
    shapes = left | right
    shapes[64, 35:96] = True  # a one-pixel line joins the two discs
    result = grow_region(_image(shapes, noise=5.0), point=(35, 64))
    assert _dice(result.mask, left) > 0.95
    assert not result.mask[:, 80:].any()


def test_grow_region_in_a_box_stays_inside_it(truth: np.ndarray) -> None:
    image = _image(truth)
    whole = grow_region(image, box=(40, 30, 100, 90))
    assert _dice(whole.mask, truth) > 0.95
    half = grow_region(image, box=(CENTRE[0], 30, 100, 90))  # the right half of the disc
    assert not half.mask[:, : CENTRE[0]].any()
    assert _dice(half.mask, truth & (np.arange(SIZE)[None, :] >= CENTRE[0])) > 0.9


def test_grow_region_box_corners_in_any_order(truth: np.ndarray) -> None:
    image = _image(truth)
    a = grow_region(image, box=(40, 30, 100, 90))
    b = grow_region(image, box=(100, 90, 40, 30))
    assert np.array_equal(a.mask, b.mask)


def test_grow_region_multiplier_widens_the_accepted_range() -> None:
    # A soft gradient: a wider range accepts more of it.
    ramp = np.tile(np.linspace(0.0, 100.0, SIZE), (SIZE, 1))
    narrow = grow_region(ramp, point=(64, 64), options=RegionOptions(multiplier=1.0))
    wide = grow_region(ramp, point=(64, 64), options=RegionOptions(multiplier=5.0))
    assert wide.pixels > narrow.pixels > 0


def test_grow_region_on_a_colour_image_uses_luminance(truth: np.ndarray) -> None:
    grey = np.clip(_image(truth, noise=4.0), 0, 255).astype(np.uint8)
    rgb = np.stack([grey, grey, grey], axis=-1)
    result = grow_region(rgb, point=CENTRE)
    assert _dice(result.mask, truth) > 0.95


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"point": (SIZE, 5)}, "point"),
        ({"point": (-1, 5)}, "point"),
        ({"box": (10, 10, SIZE, 20)}, "box"),
        ({"box": (10, 10, 11, 40)}, "box"),
        ({}, "point"),
        ({"point": (5, 5), "box": (0, 0, 10, 10)}, "point"),
    ],
)
def test_grow_region_rejects_bad_input(kwargs: dict, field: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(RegionInputError) as raised:
        grow_region(np.zeros((SIZE, SIZE)), **kwargs)
    assert raised.value.field == field
