"""The model grid: every image is reoriented to one canonical axis order and resampled to an
isotropic grid of the model's spacing, so training and inference see the same anatomy axes.

Canonical orientation is ITK's "LPS" (array [k, j, i] = [superior, posterior, left]); reorienting
an axis-aligned image only permutes and flips its axes (no interpolation).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.geometry import Grid
from SpineCoreLib.resample import isotropic_grid, reference_image


def canonical(image: sitk.Image) -> sitk.Image:
    """``image`` with its axes permuted/flipped to the canonical order (voxels unchanged)."""
    return sitk.DICOMOrient(image, "LPS")


def model_grid(image: sitk.Image, spacing: float) -> Grid:
    """Isotropic grid of ``spacing`` over the image's extent, in canonical orientation."""
    return isotropic_grid(Grid.from_image(canonical(image)), spacing, cover=True)


def to_grid(image: sitk.Image, grid: Grid, interpolation: int = sitk.sitkLinear, default: float = 0.0,
            pixel: int = sitk.sitkFloat32, extrapolate: bool = False) -> sitk.Image:
    """Resample ``image`` onto ``grid`` (same physical space, no transform).

    ``extrapolate`` repeats the nearest voxel for grid points just outside the image (a covering
    grid reaches up to half a voxel beyond it) instead of writing ``default``.
    """
    return sitk.Resample(image, reference_image(grid), sitk.Transform(), interpolation, default, pixel, extrapolate)


def pad_to_multiple(arr: np.ndarray, multiple: int, axes: tuple[int, ...] = (-3, -2, -1), mode: str = "reflect"
                    ) -> tuple[np.ndarray, tuple[slice, ...]]:
    """Pad ``axes`` up to a multiple (centred); return the padded array and the crop back."""
    axes = tuple(a % arr.ndim for a in axes)
    pads, crop = [], []
    for ax, n in enumerate(arr.shape):
        extra = (-n) % multiple if ax in axes else 0
        pads.append((extra // 2, extra - extra // 2))
        crop.append(slice(extra // 2, extra // 2 + n))
    m = mode if all(arr.shape[a] > multiple for a in axes) else "edge"
    return np.pad(arr, pads, mode=m), tuple(crop)
