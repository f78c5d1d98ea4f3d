"""The built-in vertebra segmenter: no weights, runs anywhere, on real and synthetic CT in HU.

With landmarks, bone comes from Hounsfield units (:mod:`.bone`) and each vertebra is seeded from
its own points (labels come from the landmark names, :mod:`.seeds`). Without, the spine is found
first (:mod:`.column`): the column of bodies, its discs and a corridor around it, so that ribs,
pelvis and other dense things stay out; the bone inside the corridor is taken at a threshold low
enough for osteoporotic bodies, with shells closed slice by slice and the canal left out; bodies are
seeded between the discs and named from the sacrum when it is in view, else from ``caudal_level``.
When no column with a disc is found, or its bodies are dense (``DENSE_BODY_HU``), body cores
ordered along the spine are used instead (:mod:`.ordering`). Seeds are grown over the bone by a watershed (:mod:`.grow`). The labels are
VerSe/TPTBox IDs on the input's exact grid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.levels import LEVEL_IDS, check_level

from .bone import BONE_HU, SPINE_HU, SPINE_SHELL_HU, bone_mask
from .errors import SegmentationError
from .grow import grow
from .landmarks import LandmarkSource, points_by_level
from .ordering import CORE_MM, ordered_markers
from .seeds import landmark_markers, limit_reach
from .volume import Volume, expand_labels, labels_onto, working_image

log = logging.getLogger(__name__)
# Bodies this dense (mid-body cross-section mean) keep their cancellous bone above the 150 HU threshold
# with room for partial volume, where the body-core method measured best (phantom Dice 0.95 against
# 0.87-0.92 for the column method); below it, cancellous bone falls under the threshold and only the
# column method finds the bodies (real CT of older adults: about 120 HU).
DENSE_BODY_HU = 180.0


@dataclass(frozen=True)
class BuiltinOptions:
    """Tuning of the built-in segmenter; the defaults suit adult thoraco-lumbar CT."""

    bone_hu: float = BONE_HU
    closing_mm: float = 0.0
    min_bone_mm3: float = 400.0
    edge_passes: int = 1
    working_spacing_mm: float = 1.5  # finer images are labelled on this grid, then refined
    core_mm: float = CORE_MM
    reach_mm: float = 65.0  # landmark mode: no label farther than this from its body-spinous axis
    label_neighbours: bool = False  # landmark mode: also label the levels next to the annotated ones
    spine_first: bool = True  # without landmarks: find the column first (column.py); False: body cores only


def segment_builtin(image: sitk.Image, landmarks: LandmarkSource | None = None, caudal_level: str = "L5",
                    options: BuiltinOptions | None = None) -> sitk.Image:
    """Vertebra labels (UInt16 VerSe IDs) of a CT in HU, on ``image``'s grid; ``image`` is not changed.

    With ``landmarks`` (RAS points by level, or a ``.mrk.json`` file) each vertebra is seeded
    from its own points and only the annotated levels are labelled (unless
    ``options.label_neighbours``); without, the most caudal vertebral body wholly in the image is
    taken to be ``caudal_level`` (see :mod:`.ordering` for that assumption).
    """
    opts = options or BuiltinOptions()
    if image.GetDimension() != 3:
        raise SegmentationError(f"a 3D CT is needed, got a {image.GetDimension()}D image")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise SegmentationError("a scalar CT in HU is needed, got a multi-component image")
    points = points_by_level(landmarks) if landmarks is not None else None
    work = Volume.of(working_image(image, opts.working_spacing_mm))
    bone = _bone(work, opts)
    if points is not None:
        markers, seeded = landmark_markers(work, bone, points)
        if not markers.any():
            raise SegmentationError("no landmark lies in or near bone: do the landmarks belong to this image "
                                    "(same patient, same world)?")
        labels = limit_reach(grow(markers, bone, work.spacing), work, seeded, opts.reach_mm)
        if not opts.label_neighbours:  # their seeds only kept the annotated levels out of their bone
            labels = np.where(np.isin(labels, [LEVEL_IDS[lv] for lv in points]), labels, 0).astype(np.uint16)
    else:
        spine = _spine_first(image, caudal_level, opts) if opts.spine_first else None
        if spine is not None:
            return spine
        markers = ordered_markers(bone, work, caudal_level, opts.core_mm)
        labels = grow(markers, bone, work.spacing)
    if not labels.any():
        log.warning("no vertebra found: is the image a CT in Hounsfield units?")
    if work.image is not image:
        full = Volume.of(image)
        labels = labels_onto(labels, work, image, _bone(full, opts))
    out = sitk.GetImageFromArray(labels.astype(np.uint16))
    out.CopyInformation(image)
    return out


def _spine_first(image: sitk.Image, caudal_level: str, opts: BuiltinOptions) -> sitk.Image | None:
    """Labels by the column method (:mod:`.column`) on an LPS-ordered working grid, or None when no
    column with at least one disc is found."""
    from scipy import ndimage

    from .bone import spine_base_mask, spine_bone_mask
    from .column import (
        column_markers,
        complete_segments,
        corridor,
        disc_and_body_hu,
        disc_mask,
        find_column,
        limit_sacrum,
    )

    try:
        check_level(caudal_level)
    except ValueError as exc:
        raise SegmentationError(str(exc)) from exc
    work = Volume.of(sitk.DICOMOrient(working_image(image, opts.working_spacing_mm), "LPS"))
    hu = ndimage.gaussian_filter(work.array, sigma=0.6 / work.spacing, truncate=3.0)
    base = spine_base_mask(hu, work.spacing, opts.min_bone_mm3)
    column = find_column(base, hu, work)
    if column is None or not column.discs:
        log.info("no column of vertebral bodies with a disc found: ordering body cores instead")
        return None
    disc_hu, body_hu = disc_and_body_hu(hu, column, work.spacing)
    if body_hu >= DENSE_BODY_HU:
        log.info("column: bodies %.0f HU, dense enough for the %.0f HU threshold: ordering body cores", body_hu,
                 opts.bone_hu)
        return None
    split = float(np.clip((disc_hu + body_hu) / 2, SPINE_HU, BONE_HU))  # between this spine's discs and bodies
    log.info("column: discs %.0f HU, bodies %.0f HU; bone from %.0f HU", disc_hu, body_hu, split)
    if split > SPINE_HU:
        base = spine_base_mask(hu, work.spacing, opts.min_bone_mm3, split)
    bone = spine_bone_mask(hu, work.spacing, base, corridor(column, work), opts.edge_passes,
                           max(split, SPINE_SHELL_HU))
    bone &= ~disc_mask(column, work, hu)  # a disc that partial volume lifted above the threshold is no bone
    markers, _, _ = column_markers(column, bone, base, work, caudal_level)
    labels = limit_sacrum(grow(markers, bone, work.spacing), column, complete_segments(column, bone.shape[0])[2], work)
    if not labels.any():
        return None
    full = Volume.of(sitk.DICOMOrient(image, "LPS"))
    if full.array.shape != labels.shape:  # a finer input: carried onto its grid, surface from its own bone
        grown = sitk.GetImageFromArray(expand_labels(labels, work.spacing, float(work.spacing.max())).astype(np.uint16))
        grown.CopyInformation(work.image)
        back = sitk.Resample(grown, full.image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt16)
        full_hu = ndimage.gaussian_filter(full.array, sigma=0.6 / full.spacing, truncate=3.0)
        labels = sitk.GetArrayFromImage(back) * spine_base_mask(full_hu, full.spacing, opts.min_bone_mm3)
    lps = sitk.GetImageFromArray(labels.astype(np.uint16))
    lps.CopyInformation(full.image)
    return sitk.Resample(lps, image, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt16)


def _bone(vol: Volume, opts: BuiltinOptions) -> np.ndarray:
    return bone_mask(vol.array, vol.spacing, opts.bone_hu, closing_mm=opts.closing_mm,
                     min_volume_mm3=opts.min_bone_mm3, edge_passes=opts.edge_passes)
