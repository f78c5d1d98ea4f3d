"""The built-in vertebra segmenter: no weights, runs anywhere, on real and synthetic CT in HU.

The spine is found first (:mod:`.column`, :mod:`.spine_first`): the column of bodies, its discs and
a corridor around it that keeps ribs, pelvis and contrast out. Where its bodies are osteoporotic
(cancellous bone below the usual threshold), the bone inside the corridor is taken at a lower
threshold with shells closed slice by slice, the canal and the discs left out. Elsewhere (dense
bodies, or no column with a disc) bone comes from the 150 HU threshold (:mod:`.bone`). Vertebrae are
seeded from landmarks when given (labels from the landmark names, :mod:`.seeds`), else from the
column's bodies between discs (named from the sacrum when it is in view, else from ``caudal_level``)
or from body cores ordered along the spine (:mod:`.ordering`), and grown over the bone by a
watershed (:mod:`.grow`). The labels are VerSe/TPTBox IDs on the input's exact grid.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.levels import LEVEL_IDS, check_level

from .bone import BONE_HU, bone_mask
from .errors import SegmentationError
from .grow import grow
from .landmarks import LandmarkSource, points_by_level
from .ordering import CORE_MM, ordered_markers
from .seeds import landmark_markers, limit_reach
from .spine_first import column_labels, spine_bone, to_input_grid
from .volume import Volume, labels_onto, working_image

log = logging.getLogger(__name__)
ANCHOR_KEY = "spinemrtoct_levels_from"  # metadata of the returned label image: what the levels were counted from


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
    spine_first: bool = True  # find the column first where bodies are osteoporotic (spine_first.py); False: never


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
    if points is None:
        try:
            check_level(caudal_level)
        except ValueError as exc:
            raise SegmentationError(str(exc)) from exc
    spine = spine_bone(image, opts.working_spacing_mm, opts.min_bone_mm3, opts.edge_passes) \
        if opts.spine_first else None
    if spine is not None:
        work, bone = spine.work, spine.bone
    else:
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
        anchor = "the landmarks' names"
    elif spine is not None:
        labels, anchor = column_labels(spine, caudal_level)
    else:
        markers = ordered_markers(bone, work, caudal_level, opts.core_mm)
        labels = grow(markers, bone, work.spacing)
        anchor = f"{caudal_level} (the lowest vertebral body wholly in the image)"
    if not labels.any():
        log.warning("no vertebra found: is the image a CT in Hounsfield units?")
    if spine is not None:
        out = to_input_grid(labels, spine, image, opts.min_bone_mm3)
        out.SetMetaData(ANCHOR_KEY, anchor)
        return out
    if work.image is not image:
        full = Volume.of(image)
        labels = labels_onto(labels, work, image, _bone(full, opts))
    out = sitk.GetImageFromArray(labels.astype(np.uint16))
    out.CopyInformation(image)
    out.SetMetaData(ANCHOR_KEY, anchor)
    return out


def _bone(vol: Volume, opts: BuiltinOptions) -> np.ndarray:
    return bone_mask(vol.array, vol.spacing, opts.bone_hu, closing_mm=opts.closing_mm,
                     min_volume_mm3=opts.min_bone_mm3, edge_passes=opts.edge_passes)
