"""Bias-field correction of MR before it is normalised: N4 (Tustison et al., N4ITK: improved N3 bias
correction, IEEE TMI 2010) through SimpleITK.

A receive coil makes the same tissue brighter near it, smoothly over the field of view; spine MR
from a posterior surface coil is brightest behind the spine. Percentile normalisation cannot undo
that, and a model trained on one coil reads the slope as anatomy. N4 estimates the smooth field
inside the body and divides it out. It runs on a copy shrunk to about ``work_mm`` voxels (the field
is smooth), and the field is then evaluated on the full grid, so a 2 mm spine volume takes a second.
"""

from __future__ import annotations

import logging

import numpy as np
import SimpleITK as sitk

from .intensity import foreground_threshold

log = logging.getLogger(__name__)


def foreground_mask(image: sitk.Image, fraction: float = 0.05) -> sitk.Image:
    """Voxels brighter than ``fraction`` of the way from the minimum to the 99.9th percentile (the body, as
    ``MRMapping`` counts it),
    closed and hole-filled slice by slice so that dark cortical bone and fluid inside stay in."""
    threshold = foreground_threshold(sitk.GetArrayFromImage(image), fraction)
    mask = sitk.Cast(image > threshold if threshold is not None else image * 0 + 1, sitk.sitkUInt8)
    mask = sitk.BinaryMorphologicalClosing(mask, [1, 1, 1])
    return sitk.BinaryFillhole(mask)


def correct_bias(image: sitk.Image, work_mm: float = 4.0, iterations: tuple[int, ...] = (50, 50, 30),
                 mask: sitk.Image | None = None) -> sitk.Image:
    """``image`` (float32, same grid) divided by its N4-estimated bias field; the input is untouched.

    The field's mean inside the mask is kept at 1, so intensities stay on the input's scale. A volume
    with fewer than 64 foreground voxels, or one N4 cannot fit, is returned unchanged (logged).
    """
    img = sitk.Cast(image, sitk.sitkFloat32)
    low, high = (float(v) for v in (np.min(sitk.GetArrayViewFromImage(img)), np.max(sitk.GetArrayViewFromImage(img))))
    shift = 0.0
    if low <= 0:  # N4 works on the logarithm: shift to strictly positive values, and back afterwards
        shift = 1e-3 * max(high - low, 1.0) - low
        img = img + shift
    mask = foreground_mask(img) if mask is None else sitk.Cast(mask, sitk.sitkUInt8)
    inside = sitk.GetArrayFromImage(mask) > 0
    if int(inside.sum()) < 64:
        log.info("bias correction skipped: fewer than 64 foreground voxels")
        return sitk.Cast(image, sitk.sitkFloat32)
    shrink = [max(1, int(round(work_mm / s))) for s in img.GetSpacing()]
    small, small_mask = sitk.Shrink(img, shrink), sitk.Shrink(mask, shrink)
    n4 = sitk.N4BiasFieldCorrectionImageFilter()
    n4.SetMaximumNumberOfIterations(list(iterations))
    try:
        n4.Execute(small, small_mask)
    except RuntimeError as exc:  # e.g. a mask N4 cannot fit a field to
        log.warning("bias correction skipped: N4 failed (%s)", str(exc).splitlines()[-1])
        return sitk.Cast(image, sitk.sitkFloat32)
    log_field = sitk.GetArrayFromImage(n4.GetLogBiasFieldAsImage(img))
    log_field -= float(log_field[inside].mean())  # mean field 1 inside the body: the scale is kept
    out = sitk.GetArrayFromImage(img) / np.exp(log_field) - shift
    result = sitk.GetImageFromArray(out.astype(np.float32))
    result.CopyInformation(image)
    return result
