"""A CT series of a bright disc on soft tissue, with noise: the ground truth of the interactive
segmentation tests (API and browser)."""

import numpy as np

from annotator.imaging.synthetic.ct import make_ct_series
from tests.imaging.dicom_files import to_bytes

DISC_HU, TISSUE_HU, NOISE_HU = 180, 20, 10.0


def disc_truth(*, size: int, centre: tuple[int, int], radius: float) -> np.ndarray:
    """The disc as a bool (rows, columns) slice; centre is (i, j)."""
    j, i = np.ogrid[:size, :size]
    truth: np.ndarray = (i - centre[0]) ** 2 + (j - centre[1]) ** 2 <= radius**2
    return truth


def disc_series_files(
    *,
    slices: int = 3,
    size: int = 64,
    centre: tuple[int, int] = (34, 28),
    radius: float = 14.0,
    seed: int = 0,
    uid_seed: str = "disc",
) -> list[tuple[str, bytes]]:
    """Return (name, bytes) of a CT series whose every slice shows the same noisy disc."""
    datasets = make_ct_series(slices=slices, size=size, nodules=0, seed=seed, uid_seed=uid_seed)
    rng = np.random.default_rng(seed)
    disc = disc_truth(size=size, centre=centre, radius=radius)
    files = []
    for ds in datasets:
        hu = np.where(disc, DISC_HU, TISSUE_HU) + rng.normal(0.0, NOISE_HU, disc.shape)
        stored = (np.rint(hu).astype(np.int32) + 1024).astype(np.int16)
        ds.set_pixel_data(stored, "MONOCHROME2", 16, generate_instance_uid=False)
        ds.RescaleIntercept, ds.RescaleSlope = "-1024", "1"
        files.append((f"disc/{ds.SOPInstanceUID}.dcm", to_bytes(ds)))
    return files
