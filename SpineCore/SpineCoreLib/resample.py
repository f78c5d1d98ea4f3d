"""Resample a moving image onto a fixed grid through a registration, and export training pairs.

Images use linear or B-spline interpolation, label maps nearest neighbour. The moving image is
cropped to the target's footprint before B-spline resampling (its coefficient filter otherwise
runs over the whole input: 4.7x slower onto a sagittal MR grid from a 512x512x400 CT).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from .geometry import Grid

INTERPOLATORS = {"linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline, "nearest": sitk.sitkNearestNeighbor}


class NoOverlapError(ValueError):
    """The registered images do not overlap."""


def isotropic_grid(reference: Grid, spacing: float, cover: bool = False) -> Grid:
    """A grid with ``reference``'s orientation and extent at ``spacing`` mm in every direction.

    ``cover=True`` rounds the size up, so the new voxels cover the whole reference (nothing of it
    falls outside when resampling back); otherwise the size is rounded to the nearest.
    """
    extent = np.array(reference.size) * np.array(reference.spacing)
    n = np.ceil(extent / spacing - 1e-6) if cover else np.round(extent / spacing)
    size = np.maximum(n.astype(int), 1)
    d = reference.direction_matrix
    centre = np.array(reference.origin) + d @ ((np.array(reference.size) - 1) * np.array(reference.spacing) / 2)
    origin = centre - d @ ((size - 1) * spacing / 2)  # both grids share their centre
    return Grid(tuple(int(s) for s in size), (spacing,) * 3, tuple(float(v) for v in origin), reference.direction)


def reference_image(grid: Grid) -> sitk.Image:
    """An empty image carrying ``grid``'s geometry (for sitk.Resample)."""
    img = sitk.Image([int(s) for s in grid.size], sitk.sitkUInt8)
    return grid.apply_to(img)


def footprint(moving: sitk.Image, target: Grid, transform: sitk.Transform, margin_vox: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Index box [lo, hi) of ``moving`` that the target grid's corners map into (plus a margin).

    Raises NoOverlapError when the box is empty: the registered images do not overlap.
    """
    corners = [np.array(c) * (np.array(target.size) - 1) for c in np.ndindex(2, 2, 2)]
    lps = [np.array(p) * np.array([-1, -1, 1]) for p in target.index_to_ras(np.array(corners))]
    idx = np.array([moving.TransformPhysicalPointToContinuousIndex(transform.TransformPoint(tuple(p))) for p in lps])
    lo = np.maximum(np.floor(idx.min(0)).astype(int) - margin_vox, 0)
    hi = np.minimum(np.ceil(idx.max(0)).astype(int) + margin_vox + 1, np.array(moving.GetSize()))
    if np.any(hi <= lo):
        raise NoOverlapError("the moving image does not overlap the target grid after registration: "
                             "check that the landmarks belong to these images")
    return lo, hi


def resample(moving: sitk.Image, target: Grid, transform: sitk.Transform, interpolation: str = "linear",
             default: float = 0.0, crop: bool = True) -> sitk.Image:
    """``moving`` on ``target`` through ``transform`` (fixed LPS -> moving LPS)."""
    if interpolation not in INTERPOLATORS:
        raise ValueError(f"unknown interpolation {interpolation!r}: use {', '.join(INTERPOLATORS)}")
    src = moving
    if transform.IsLinear():
        lo, hi = footprint(moving, target, transform)
        # cropping copies the image: worth it only before B-spline's whole-image coefficient filter
        if crop and interpolation == "bspline":
            src = moving[int(lo[0]) : int(hi[0]), int(lo[1]) : int(hi[1]), int(lo[2]) : int(hi[2])]
    return sitk.Resample(src, reference_image(target), transform, INTERPOLATORS[interpolation], default,
                         moving.GetPixelID())


def valid_mask(moving: sitk.Image, target: Grid, transform: sitk.Transform) -> np.ndarray:
    """[k, j, i] boolean mask of target voxels that map inside the moving image."""
    ones = sitk.Image(moving.GetSize(), sitk.sitkUInt8) + 1
    ones.CopyInformation(moving)
    m = sitk.Resample(ones, reference_image(target), transform, sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
    return sitk.GetArrayViewFromImage(m) > 0


def shared_box(mask: np.ndarray) -> tuple[slice, slice, slice]:
    """Bounding box [k, j, i] of a mask; NoOverlapError if it is empty."""
    nz = np.argwhere(mask)
    if len(nz) == 0:
        raise NoOverlapError("the registered images do not overlap: check the landmarks and the image pair")
    lo, hi = nz.min(0), nz.max(0) + 1
    return tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))


def crop_grid(grid: Grid, box: tuple[slice, slice, slice]) -> Grid:
    """The sub-grid of ``grid`` selected by a [k, j, i] box."""
    start = np.array([box[2].start, box[1].start, box[0].start])
    size = (box[2].stop - box[2].start, box[1].stop - box[1].start, box[0].stop - box[0].start)
    origin = grid.index_to_ras(start)
    return Grid(size, grid.spacing, tuple(float(v) for v in origin), grid.direction)


def crop_to_labels(image: sitk.Image, labels: sitk.Image, margin: int = 3) -> sitk.Image:
    """``image`` cut to the box of the non-zero ``labels`` (on the same grid) and ``margin`` voxels: a field
    of view around the spine alone, as a lumbar crop or a tight reconstruction gives it."""
    k, j, i = np.nonzero(sitk.GetArrayViewFromImage(labels))
    if k.size == 0:
        raise ValueError("the label image is empty: there is no box to cut to")
    lo = [max(int(a.min()) - margin, 0) for a in (i, j, k)]
    hi = [min(int(a.max()) + margin + 1, n) for a, n in zip((i, j, k), image.GetSize(), strict=True)]
    return image[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
