"""Stacks and their voxel caches: one memory-mappable .npy per stack, written once after
ingest and read by rendering, ML and export alike.

Array layout: volume[k, j, i] = (slice, row, column) in modality units after the rescale
(CT: Hounsfield units). Colour images (RGB ultrasound) add a last axis of 3 (uint8).
"""

import functools
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from django.conf import settings
from django.db import transaction
from pydicom.pixels.processing import convert_color_space

from annotator.imaging.geometry import SliceInfo, StackGeometry, build_stacks
from annotator.imaging.models import Instance, Series, SeriesStatus, Stack

logger = logging.getLogger(__name__)


def _slice_info(instance: Instance) -> SliceInfo:
    g = instance.geometry
    spacing = g.get("pixel_spacing")
    return SliceInfo(
        key=str(instance.pk),
        position=_triple(g.get("position")),
        orientation=tuple(g["orientation"]) if g.get("orientation") else None,
        pixel_spacing=(spacing[0], spacing[1]) if spacing and len(spacing) >= 2 else None,
        rows=instance.rows or 0,
        columns=instance.columns or 0,
        image_type=tuple(g.get("image_type") or ()),
        slice_thickness=g.get("slice_thickness"),
        acquisition_number=g.get("acquisition_number"),
        frame_of_reference_uid=g.get("frame_of_reference_uid"),
    )


def _triple(values: list[float] | None) -> tuple[float, float, float] | None:
    if not values or len(values) < 3:
        return None
    return (float(values[0]), float(values[1]), float(values[2]))


def _multiframe_geometry(instance: Instance) -> StackGeometry:
    g = instance.geometry
    spacing = g.get("pixel_spacing") or [1.0, 1.0]
    frames = instance.number_of_frames
    return StackGeometry(
        keys=(str(instance.pk),),
        size=(instance.columns or 0, instance.rows or 0, frames),
        spacing=(float(spacing[1]), float(spacing[0]), 1.0),
        origin=_triple(g.get("position")) or (0.0, 0.0, 0.0),
        direction=(1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
        uniform=True,
        slice_positions=tuple(float(k) for k in range(frames)),
        gantry_tilt_deg=None,
        role="cine" if frames > 1 else "single",
    )


@transaction.atomic
def plan_stacks(series: Series) -> list[Stack]:
    """Group the series' images into stacks by geometry and record each image's place."""
    images = list(series.instances.filter(is_image=True).order_by("instance_number", "pk"))
    by_key = {str(i.pk): i for i in images}
    single = [i for i in images if i.number_of_frames <= 1]
    geometries = build_stacks([_slice_info(i) for i in single]) if single else []
    geometries += [_multiframe_geometry(i) for i in images if i.number_of_frames > 1]
    series.stacks.all().delete()
    stacks = []
    frame_time = series.display.get("frame_time_ms")
    for index, geometry in enumerate(geometries):
        stack = Stack.objects.create(
            series=series,
            index=index,
            role=geometry.role,
            size=list(geometry.size),
            spacing=list(geometry.spacing),
            origin=list(geometry.origin),
            direction=list(geometry.direction),
            uniform=geometry.uniform,
            slice_positions=list(geometry.slice_positions),
            gantry_tilt_deg=geometry.gantry_tilt_deg,
            frame_time_ms=frame_time if geometry.role == "cine" else None,
        )
        members = [by_key[key] for key in geometry.keys]
        for position, instance in enumerate(members):
            instance.stack, instance.stack_position = stack, position
        Instance.objects.bulk_update(members, ["stack", "stack_position"])
        stacks.append(stack)
    return stacks


def stack_geometry(stack: Stack) -> StackGeometry:
    """Return a stored stack's geometry, for index <-> patient (LPS) conversions."""
    return StackGeometry(
        keys=(),
        size=(stack.size[0], stack.size[1], stack.size[2]),
        spacing=(stack.spacing[0], stack.spacing[1], stack.spacing[2]),
        origin=(stack.origin[0], stack.origin[1], stack.origin[2]),
        direction=tuple(stack.direction),
        uniform=stack.uniform,
        slice_positions=tuple(stack.slice_positions),
        gantry_tilt_deg=stack.gantry_tilt_deg,
        role=stack.role,
    )


def volume_path(stack: Stack) -> Path:
    """Return where a stack's voxel cache lives on local disk."""
    return (
        Path(settings.MEDIA_ROOT)
        / "projects"
        / str(stack.series.project_id)
        / "volumes"
        / str(stack.series_id)
        / f"stack-{stack.index}.npy"
    )


def _frames(ds: Any) -> np.ndarray:
    pixels = ds.pixel_array
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if frames == 1:
        pixels = pixels[np.newaxis]
    if samples == 3 and str(ds.get("PhotometricInterpretation", "")).startswith("YBR"):
        pixels = convert_color_space(pixels, ds.PhotometricInterpretation, "RGB")
    return np.asarray(pixels)


def _rescale(ds: Any) -> tuple[float, float]:
    return float(ds.get("RescaleSlope", 1) or 1), float(ds.get("RescaleIntercept", 0) or 0)


class _DoesNotFitError(Exception):
    """A rescaled slice left the int16 range: write the stack as float32 instead."""


def _integral(rescales: set[tuple[float, float]]) -> bool:
    return all(slope == 1.0 and intercept == int(intercept) for slope, intercept in rescales)


def build_volume(stack: Stack) -> Path:
    """Decode the stack's images in order into a .npy file, slice by slice (memory stays
    bounded). CT and most integer images are stored as int16 when every rescaled value fits
    exactly, otherwise as float32; colour images as uint8 RGB."""
    instances = list(stack.instances.order_by("stack_position"))
    first = pydicom.dcmread(instances[0].file.path, stop_before_pixels=True)
    rescales = {_rescale(pydicom.dcmread(i.file.path, stop_before_pixels=True)) for i in instances}
    columns, rows, depth = stack.size
    if int(first.get("SamplesPerPixel", 1) or 1) == 3:
        return _write(stack, instances, np.dtype(np.uint8), (depth, rows, columns, 3))
    shape = (depth, rows, columns)
    if _integral(rescales):
        try:
            return _write(stack, instances, np.dtype(np.int16), shape)
        except _DoesNotFitError:
            logger.info("Stack %s does not fit int16; writing float32", stack.pk)
    return _write(stack, instances, np.dtype(np.float32), shape)


def _write(
    stack: Stack, instances: list[Instance], dtype: np.dtype[Any], shape: tuple[int, ...]
) -> Path:
    path = volume_path(stack)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.npy")
    out = np.lib.format.open_memmap(partial, mode="w+", dtype=dtype, shape=shape)
    k = 0
    for instance in instances:
        ds = pydicom.dcmread(instance.file.path)
        frames = _frames(ds)
        if len(shape) == 3:
            slope, intercept = _rescale(ds)
            values = (
                frames.astype(np.float32) * slope + intercept
                if (slope, intercept) != (1.0, 0.0)
                else frames
            )
            if (
                dtype == np.int16
                and values.size
                and (values.min() < -32768 or values.max() > 32767)
            ):
                del out
                partial.unlink(missing_ok=True)
                raise _DoesNotFitError
            frames = values
        out[k : k + len(frames)] = frames.astype(dtype, copy=False)
        k += len(frames)
    out.flush()
    del out
    partial.replace(path)
    load_volume.cache_clear()
    return path


@transaction.atomic
def build_series_volumes(series: Series) -> list[Stack]:
    """Plan the stacks of a series, cache each one's voxels, mark the series ready and open
    its labeling tasks."""
    if not series.is_image:
        Series.objects.filter(pk=series.pk).update(status=SeriesStatus.READY)
        return []
    stacks = plan_stacks(series)
    for stack in stacks:
        path = build_volume(stack)
        Stack.objects.filter(pk=stack.pk).update(
            volume_path=str(path.relative_to(settings.MEDIA_ROOT)),
            dtype=str(np.load(path, mmap_mode="r").dtype),
        )
    Series.objects.filter(pk=series.pk).update(status=SeriesStatus.READY, status_message="")
    from annotator.labeling.workflow import open_tasks_for_series  # labeling builds on imaging

    series.status = SeriesStatus.READY
    open_tasks_for_series(series=series)
    return stacks


@functools.lru_cache(maxsize=64)
def load_volume(path: str) -> np.ndarray:
    """Return a read-only memory map of a stack's voxels (cached per process)."""
    volume: np.ndarray = np.load(Path(settings.MEDIA_ROOT) / path, mmap_mode="r")
    return volume
