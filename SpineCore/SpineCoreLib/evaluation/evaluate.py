"""Evaluate a synthetic CT (and its vertebra labels) against a reference CT (and its labels).

The prediction is resampled onto the reference's grid when the grids differ (linear for HU,
nearest neighbour for labels), so every metric is taken where the reference was measured.
Inputs are never modified.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from ..metrics import image_metrics
from .dice import segmentation_metrics
from .table import result_rows

AIR_HU = -1024.0


def same_grid(a: sitk.Image, b: sitk.Image, tol: float = 1e-4) -> bool:
    """Whether two images share size, spacing, origin and direction (to ``tol``)."""
    return (a.GetSize() == b.GetSize()
            and np.allclose(a.GetSpacing(), b.GetSpacing(), atol=tol)
            and np.allclose(a.GetOrigin(), b.GetOrigin(), atol=tol)
            and np.allclose(a.GetDirection(), b.GetDirection(), atol=tol))


def on_grid(image: sitk.Image, reference: sitk.Image, labels: bool = False) -> sitk.Image:
    """``image`` on ``reference``'s grid: itself when the grids agree, else a resampled copy."""
    if same_grid(image, reference):
        return image
    if labels:
        return sitk.Resample(image, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt16)
    return sitk.Resample(image, reference, sitk.Transform(), sitk.sitkLinear, AIR_HU, sitk.sitkFloat32)


PROTOCOLS = ("project", "synthrad")


def evaluate(pred: sitk.Image, ref: sitk.Image, pred_seg: sitk.Image | None = None,
             ref_seg: sitk.Image | None = None, levels: list[str] | None = None, mask: sitk.Image | None = None,
             protocols: tuple[str, ...] = ("project",)) -> dict:
    """Image metrics, and vertebra Dice when both label maps are given, on the reference's grid.

    Returns ``{"image": image_metrics(...), "synthrad": synthrad_metrics(...) when asked,
    "segmentation": segmentation_metrics(...) or None, "rows": the same as a flat table (see
    :mod:`.table`)}``. ``mask`` (nearest neighbour onto the reference's grid) is the region scored by
    both protocols; without it the project's protocol scores the reference's body and SynthRAD's the
    whole image. Labels are compared on ``ref_seg``'s grid; ``levels`` limits the per-vertebra scores.
    """
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise ValueError(f"unknown protocol {unknown[0]!r}: use {' or '.join(PROTOCOLS)}")
    pred_hu = sitk.GetArrayFromImage(on_grid(pred, ref)).astype(np.float32)
    ref_hu = sitk.GetArrayFromImage(ref).astype(np.float32)
    region = sitk.GetArrayFromImage(on_grid(mask, ref, labels=True)) > 0 if mask is not None else None
    if region is not None and not region.any():
        raise ValueError("the mask holds no voxel inside the reference CT: give a mask of the scored region")
    result: dict = {"image": image_metrics(pred_hu, ref_hu, region) if "project" in protocols else {},
                    "segmentation": None}
    if "synthrad" in protocols:
        from .synthrad import synthrad_metrics

        result["synthrad"] = synthrad_metrics(ref_hu, pred_hu, region)
    if pred_seg is not None and ref_seg is not None:
        p = sitk.GetArrayFromImage(on_grid(pred_seg, ref_seg, labels=True))
        result["segmentation"] = segmentation_metrics(p, sitk.GetArrayFromImage(ref_seg), levels)
    result["rows"] = result_rows(result)
    return result
