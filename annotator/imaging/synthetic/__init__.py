"""Build synthetic, PHI-free DICOM datasets (CT, DX, MG, US) for tests, demos and benchmarks.

Everything here is pure numpy + pydicom (no Django). Each builder returns in-memory
``FileDataset`` objects with a proper file meta header (Explicit VR Little Endian); the images
look enough like anatomy for viewers, window presets, thresholds and model smoke tests.

Patients are obviously fake ("PHANTOM^CT", "PHANTOM-001"); nothing comes from a real person.

UIDs are fresh (random) by default. Pass ``uid_seed`` to derive every UID from the seed and the
builder's arguments instead; together with the fixed dates this makes the written files
byte-identical across runs, which `annotator.imaging.samples` relies on for idempotency.

Orientation conventions (the classic silent bug of this field, so spelled out):

* CT: LPS patient coordinates, ``ImageOrientationPatient = [1, 0, 0, 0, 1, 0]``: columns run
  towards the patient's left, rows towards posterior, so the patient's right is on the image's
  left (radiological convention). Instance 1 is the most superior slice and
  ``ImagePositionPatient`` z *decreases* with the instance number; SOP Instance UIDs are checked
  not to sort in instance order, so a folder listing is never already in slice order.
* DX chest PA: displayed as if facing the patient, ``PatientOrientation = L\\F``.
* MG: the usual "back to back" hanging (ACR / IHE Mammography Image profile): a right breast
  has its chest wall on the image's *right* edge and the nipple pointing left; a left breast has
  its chest wall on the *left* edge. Patient Orientation is ``P\\L`` (R CC), ``A\\R`` (L CC),
  ``P\\FL`` (R MLO) and ``A\\FR`` (L MLO).
"""

from annotator.imaging.synthetic.common import write_datasets
from annotator.imaging.synthetic.ct import CT_LABELS, CtPhantom, make_ct_phantom, make_ct_series
from annotator.imaging.synthetic.mammography import make_mammogram_pair
from annotator.imaging.synthetic.ultrasound import make_ultrasound_cine
from annotator.imaging.synthetic.xray import make_xray

__all__ = [
    "CT_LABELS",
    "CtPhantom",
    "make_ct_phantom",
    "make_ct_series",
    "make_mammogram_pair",
    "make_ultrasound_cine",
    "make_xray",
    "write_datasets",
]
