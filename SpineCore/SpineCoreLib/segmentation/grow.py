"""Grow labelled seeds into the whole bone mask: marker-based watershed on the distance map.

Inside bone the negated distance to the surface has basins at thick parts (vertebral bodies)
and ridges at narrow necks (partial-volume bridges across discs, facet joints), so the fronts
from neighbouring vertebrae meet where the bone is thinnest. Bone that no seed reaches through
bone (a rib, a vertebra outside the seeded range) is left unlabelled instead of being annexed.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

_FULL = np.ones((3, 3, 3), bool)


def grow(markers: np.ndarray, bone: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Labels of ``markers`` (int array, 0 = none) spread over ``bone``; same shape, uint16."""
    markers = np.where(bone, markers, 0).astype(np.uint16)
    if not markers.any():
        return np.zeros(bone.shape, np.uint16)
    mask = sitk.GetImageFromArray(bone.astype(np.uint8))
    mask.SetSpacing(tuple(float(s) for s in np.asarray(spacing)[::-1]))
    elevation = sitk.SignedMaurerDistanceMap(mask, insideIsPositive=False, squaredDistance=False,
                                             useImageSpacing=True)
    mk = sitk.GetImageFromArray(markers)
    mk.CopyInformation(mask)
    ws = sitk.MorphologicalWatershedFromMarkers(elevation, mk, markWatershedLine=False, fullyConnected=True)
    labels = sitk.GetArrayFromImage(ws).astype(np.uint16) * bone
    return keep_seeded_parts(labels, markers)


def keep_seeded_parts(labels: np.ndarray, markers: np.ndarray) -> np.ndarray:
    """Each label restricted to its connected pieces that hold one of its own markers."""
    out = np.zeros_like(labels)
    for value, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        region = labels[box] == value
        pieces, _ = ndimage.label(region, structure=_FULL)
        seeded = np.unique(pieces[region & (markers[box] == value)])
        out[box][np.isin(pieces, seeded[seeded > 0])] = value
    return out
