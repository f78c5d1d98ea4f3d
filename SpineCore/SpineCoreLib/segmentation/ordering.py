"""Vertebrae without landmarks: find the vertebral bodies, order them along the spine and name
them counting up from a known caudal level.

Bodies are the thick parts of bone: the distance map of the bone mask, cut at a few mm, splits
them at the discs (bridges across a disc are thin) and drops the thin posterior elements and
ribs. Bodies are ordered by height along the patient's superior axis, which holds for any scan
orientation (the physical frame decides, not the voxel axes) as long as the spine runs up the
patient. Cores far to the side of the spine's midline (pelvis, femoral heads) are dropped.

Assumption: ``caudal_level`` names the most caudal vertebra whose body lies wholly inside the
image (L5 for a lumbar scan that cuts through the sacrum, S1 when the whole sacrum is in view,
L6 or T13 for transitional anatomy). A body cut by the image's cranial or caudal edge is still
labelled, one level beyond its complete neighbour, and so is a vertebra cut so far that only its
posterior elements or a sliver of its body remain. That choice is the user's; a wrong one shifts
every label by the same number of levels, which the shift-tolerant Dice forgives and the strict
one does not.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from SpineCoreLib.levels import LEVEL_IDS, VARIANT_LEVELS, check_level, ordered_levels

from .errors import SegmentationError
from .seeds import add_neighbour_seeds
from .volume import Volume

log = logging.getLogger(__name__)

CORE_MM = 4.0
MIN_CORE_FRACTION = 0.15  # of the largest core: smaller ones are posterior elements or fragments
MAX_OFF_MIDLINE_MM = 30.0
EDGE_SECTION_FRACTION = 0.3
MAX_EXTRA_DEPTH_MM = 8.0
MIN_BODY_PITCH_MM = 12.0  # two pieces this far apart in height are two bodies


@dataclass
class Core:
    """The thick centre of one vertebral body: a boolean ``mask`` over the array region ``box``."""

    box: tuple[slice, slice, slice]
    mask: np.ndarray
    centre_ras: np.ndarray
    partial: bool  # cut by the image's cranial or caudal edge


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2)])


def _cranio_caudal_axis(vol: Volume) -> int:
    """The array axis (k, j, i order) that runs closest to the patient's superior axis."""
    superior = np.abs(vol.grid.direction_matrix[2])  # S component of each index axis i, j, k
    return 2 - int(np.argmax(superior))


def _centre(vol: Volume, box: tuple[slice, ...], mask: np.ndarray) -> np.ndarray:
    return vol.kji_to_ras(np.array(ndimage.center_of_mass(mask)) + [s.start for s in box])


def _is_partial(box: tuple[slice, ...], mask: np.ndarray, axis: int, length: int) -> bool:
    """Cut by the image edge: its section on a first or last slice along ``axis`` is a large part
    of its largest section (a sliver of a neighbour reaching the edge does not count)."""
    areas = mask.sum(axis=tuple(a for a in range(3) if a != axis))
    at_edge = [areas[0]] * (box[axis].start == 0) + [areas[-1]] * (box[axis].stop == length)
    return bool(at_edge and max(at_edge) >= EDGE_SECTION_FRACTION * areas.max())


def _split_merged(box: tuple[slice, ...], mask: np.ndarray, depth: np.ndarray, vol: Volume,
                  core_mm: float) -> list[tuple[tuple[slice, ...], np.ndarray]]:
    """A core that holds two bodies (a thin or bridged disc between them) split in two: at a higher
    depth cut the bridge goes first, leaving two substantial pieces one above the other."""
    local_depth = depth[box]
    for extra in np.arange(1.0, MAX_EXTRA_DEPTH_MM + 0.5, 1.0):
        lab, n = ndimage.label(mask & (local_depth > core_mm + extra))
        if n < 2:
            continue
        sizes = np.bincount(lab.ravel())[1:]
        big = [i + 1 for i in np.flatnonzero(sizes >= 0.2 * sizes.sum())]
        if len(big) < 2:
            continue
        heights = [_centre(vol, box, lab == i)[2] for i in big]
        if max(heights) - min(heights) >= MIN_BODY_PITCH_MM:
            return [part for i in big for part in _split_merged(box, lab == i, depth, vol, core_mm + extra)]
    return [(box, mask)]


def body_cores(bone: np.ndarray, vol: Volume, core_mm: float = CORE_MM) -> list[Core]:
    """The vertebral-body cores, most cranial first."""
    depth = ndimage.distance_transform_edt(bone, sampling=vol.spacing)
    lab, n = ndimage.label(depth > core_mm)
    if n == 0:
        return []
    sizes = np.bincount(lab.ravel())[1:]
    boxes = ndimage.find_objects(lab)
    keep = [i for i in range(n) if sizes[i] >= MIN_CORE_FRACTION * sizes.max()]
    centres = [_centre(vol, boxes[i], lab[boxes[i]] == i + 1) for i in keep]
    midline = _weighted_median(np.array([c[0] for c in centres]), sizes[keep].astype(float))
    axis = _cranio_caudal_axis(vol)
    cores = []
    for i, centre in zip(keep, centres, strict=True):
        if abs(centre[0] - midline) > MAX_OFF_MIDLINE_MM:
            continue
        for box, mask in _split_merged(boxes[i], lab[boxes[i]] == i + 1, depth, vol, core_mm):
            partial = _is_partial(box, mask, axis, bone.shape[axis])
            cores.append(Core(box, mask, _centre(vol, box, mask), partial))
    cores.sort(key=lambda c: -c.centre_ras[2])
    return cores


def core_levels(cores: list[Core], caudal_level: str) -> list[str | None]:
    """The level of each core (cranial first), the most caudal complete one being ``caudal_level``;
    None for a core that would lie beyond the ends of the spine."""
    try:
        check_level(caudal_level)
    except ValueError as exc:
        raise SegmentationError(str(exc)) from exc
    if not cores:
        return []
    complete = [n for n, c in enumerate(cores) if not c.partial]
    if not complete:
        log.warning("every vertebral body found is cut by the image edge: the most caudal is taken as %s",
                    caudal_level)
    anchor = complete[-1] if complete else len(cores) - 1
    order = ordered_levels(include_variants=caudal_level in VARIANT_LEVELS)
    base = order.index(caudal_level) - anchor
    names = [order[base + n] if 0 <= base + n < len(order) else None for n in range(len(cores))]
    if None in names:
        log.warning("%d vertebral bodies lie beyond the ends of the spine counted from %s: left unlabelled",
                    names.count(None), caudal_level)
    return names


def ordered_markers(bone: np.ndarray, vol: Volume, caudal_level: str, core_mm: float = CORE_MM) -> np.ndarray:
    """Marker image: each body core labelled with its VerSe ID, counting up from ``caudal_level``.

    A vertebra cut by the image edge so that no body core remains (only a sliver of body, or its
    posterior elements) is seeded one step beyond its neighbour, as in landmark mode, so that its
    bone is not annexed by that neighbour.
    """
    cores = body_cores(bone, vol, core_mm)
    markers = np.zeros(bone.shape, np.uint16)
    points = {}
    for core, name in zip(cores, core_levels(cores, caudal_level), strict=True):
        if name is not None:
            markers[core.box][core.mask] = LEVEL_IDS[name]
            points[name] = {"body": core.centre_ras}
    add_neighbour_seeds(vol, bone, markers, points)
    return markers
