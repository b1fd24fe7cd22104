"""NIfTI export of segmentation masks (.nii.gz written with nibabel).

Layout: a 3D uint8 label map (voxel value = segment number, 0 = background) when no two
segments overlap, otherwise a 4D one-hot uint8 array [i, j, k, s] with one volume per segment in
increasing segment number. Arrays are in NIfTI order [i, j, k] (the transpose of the cache's
[k, j, i]); the sform and qform (code 1, scanner) are `geometry.nifti_affine`, the RAS grid of
the stack, exact for uniform stacks. The segment list is in a JSON "comment" extension
(code 6) and, abbreviated, in `descrip`:

    {"layout": "label_map" | "one_hot",
     "segments": [{"number": 1, "label": "organ", "index": 0}, ...]}

`index` is the position along the fourth axis in the one-hot layout.
"""

import gzip
import json
from collections.abc import Mapping

import nibabel as nib
import numpy as np
from nibabel.nifti1 import Nifti1Extension

from annotator.imaging.geometry import StackGeometry, nifti_affine
from annotator.imaging.volume import stack_geometry
from annotator.labeling.mask_reads import mask_stack, read_annotation_segments, segment_labels
from annotator.labeling.models import Annotation

NIFTI_MEDIA_TYPE = "application/gzip"
COMMENT_EXTENSION = 6
SCANNER_XFORM = 1
#: gzip level: 6 is the usual speed/size balance; masks are mostly zeros either way.
GZIP_LEVEL = 6


def segments_to_nifti(
    volumes: Mapping[int, np.ndarray], labels: Mapping[int, str], geometry: StackGeometry
) -> bytes:
    """Return a .nii.gz of bool volumes [k, j, i] per segment number (see module doc)."""
    numbers = sorted(labels)
    shape = (geometry.size[2], geometry.size[1], geometry.size[0])
    count = np.zeros(shape, dtype=np.uint8)
    for number in numbers:
        if number in volumes:
            count += volumes[number]
    one_hot = bool((count > 1).any())
    del count
    array: np.ndarray
    if one_hot:
        array = np.zeros((*geometry.size, len(numbers)), dtype=np.uint8)
        for index, number in enumerate(numbers):
            if number in volumes:
                array[..., index] = volumes[number].transpose(2, 1, 0)
    else:
        label_map = np.zeros(shape, dtype=np.uint8)
        for number in numbers:
            if number in volumes:
                label_map[volumes[number]] = number
        array = label_map.transpose(2, 1, 0)
    affine = nifti_affine(geometry)
    image = nib.Nifti1Image(array, affine)  # type: ignore[no-untyped-call]
    header = image.header
    header.set_data_dtype(np.uint8)  # type: ignore[no-untyped-call]
    header.set_xyzt_units("mm")  # type: ignore[no-untyped-call]
    image.set_sform(affine, code=SCANNER_XFORM)  # type: ignore[no-untyped-call]
    image.set_qform(affine, code=SCANNER_XFORM)  # type: ignore[no-untyped-call]
    if not one_hot:
        header.set_intent("label")  # type: ignore[no-untyped-call]
    layout = "one_hot" if one_hot else "label_map"
    summary = " ".join(f"{n}={labels[n]}" for n in numbers)
    header["descrip"] = f"annotator mask {layout} {summary}".encode()[:79]
    meta = {
        "layout": layout,
        "segments": [{"number": n, "label": labels[n], "index": i} for i, n in enumerate(numbers)],
    }
    header.extensions.append(Nifti1Extension(COMMENT_EXTENSION, json.dumps(meta).encode()))
    return gzip.compress(image.to_bytes(), compresslevel=GZIP_LEVEL, mtime=0)


def mask_to_nifti(annotation: Annotation) -> bytes:
    """Return a mask annotation as .nii.gz bytes on its stack's grid (see module doc).

    Raises:
        InvalidAnnotationError: not a mask, or a stored chunk is missing.
    """
    stack = mask_stack(annotation)
    return segments_to_nifti(
        read_annotation_segments(annotation), segment_labels(annotation), stack_geometry(stack)
    )
