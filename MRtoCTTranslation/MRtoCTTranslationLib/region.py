"""Sample only where the spine is.

A spine MR's field of view holds air around the body and, in a sagittal whole-spine series, far
more abdomen, chest and neck than spine. The network's cost grows with the voxels it sees, so the
sampler runs on a box: the MR's foreground (the body, not the air), tightened to the landmarks with
``TranslationOptions.spine_margin_mm`` around them when there are any. Outside the box the synthetic
image is air where the MR is background and, inside the body, the median of what the model made in
the box's outer shell (the soft tissue around the spine as this model renders it), blended into the
sample over ``BLEND_MM`` at each face of the box that is not the field of view's own edge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from SpineCoreLib.intensity import foreground_threshold

BLEND_MM = 8.0  # the ramp from the sample to the fill at the box's inner faces
FOREGROUND_FRACTION = 0.05  # as the MR normalisation's foreground (SpineCoreLib.intensity)


@dataclass
class Region:
    """Where the sampler runs on the model grid, and how its result joins the rest of the field of view."""

    box: tuple[slice, slice, slice]
    body: np.ndarray  # the MR's foreground on the whole grid (bool)
    weight: np.ndarray  # inside the box: 1 in its interior, falling to 0 at its inner faces

    @property
    def fraction(self) -> float:
        """Share of the grid's voxels that are sampled."""
        return float(np.prod([s.stop - s.start for s in self.box])) / float(self.body.size)

    def compose(self, sample: np.ndarray, background: float) -> np.ndarray:
        """The whole grid from the box's ``sample``: blended into air outside the body and the shell's
        median soft tissue inside it."""
        shell_body = self.body[self.box] & (self.weight < 1.0)
        tissue = float(np.median(sample[shell_body])) if shell_body.any() else background
        out = np.where(self.body, tissue, background).astype(np.float32)
        out[self.box] = self.weight * sample + (1.0 - self.weight) * out[self.box]
        return out


def body_mask(mr: np.ndarray) -> np.ndarray:
    """The MR's foreground: above 5 % of its range, its largest component with holes filled (dark cortex,
    air in the bowel and the lungs belong to the body)."""
    threshold = foreground_threshold(mr, FOREGROUND_FRACTION)
    if threshold is None:
        return np.ones(mr.shape, bool)
    lab, n = ndimage.label(mr > threshold)
    if n == 0:
        return np.ones(mr.shape, bool)
    largest = lab == (np.argmax(np.bincount(lab.ravel())[1:]) + 1)
    return ndimage.binary_fill_holes(largest)


def _ramp(n: int, lo_open: bool, hi_open: bool, width: int) -> np.ndarray:
    """Weights along one axis of the box: a linear ramp over ``width`` voxels at each open end."""
    w = np.ones(n, np.float32)
    ramp = (np.arange(width, dtype=np.float32) + 0.5) / width
    if width and lo_open:
        w[: min(width, n)] = np.minimum(w[: min(width, n)], ramp[: min(width, n)])
    if width and hi_open:
        w[-min(width, n):] = np.minimum(w[-min(width, n):], ramp[: min(width, n)][::-1])
    return w


def spine_region(mr_image: sitk.Image, landmarks_ras: np.ndarray | None, margin_mm: float,
                 min_size: tuple[int, ...] = (1, 1, 1)) -> Region:
    """The box to sample on ``mr_image``'s grid (numpy order), from its foreground and the RAS
    ``landmarks_ras`` (N x 3) widened by ``margin_mm``; at least ``min_size`` voxels a side where the
    grid allows."""
    mr = sitk.GetArrayViewFromImage(mr_image)
    body = body_mask(mr)
    spacing = np.array(mr_image.GetSpacing()[::-1])
    blend = np.ceil(BLEND_MM / spacing).astype(int)
    idx = np.argwhere(body)
    lo, hi = idx.min(0) - blend, idx.max(0) + blend + 1  # the ramp falls over air, outside the body
    if landmarks_ras is not None and len(landmarks_ras):
        lps = np.asarray(landmarks_ras, float) * np.array([-1.0, -1.0, 1.0])
        kji = np.array([mr_image.TransformPhysicalPointToContinuousIndex(tuple(p))[::-1] for p in lps])
        pad = np.ceil(margin_mm / spacing)
        lo = np.maximum(lo, np.floor(kji.min(0) - pad).astype(int))
        hi = np.minimum(hi, np.ceil(kji.max(0) + pad).astype(int) + 1)
    shape = np.array(mr.shape)
    lo, hi = np.clip(lo, 0, shape), np.clip(hi, 0, shape)
    for a in range(3):  # never thinner than the sampler's window (or the grid)
        short = max(0, min(min_size[a], shape[a]) - (hi[a] - lo[a]))
        lo[a] = max(0, lo[a] - (short + 1) // 2)
        hi[a] = min(shape[a], max(hi[a] + short // 2, lo[a] + min(min_size[a], shape[a])))
        lo[a] = min(lo[a], hi[a] - min(min_size[a], shape[a]))
    box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    ramps = [_ramp(int(b - a), a > 0, b < n, int(w)) for a, b, n, w in zip(lo, hi, shape, blend, strict=True)]
    weight = ramps[0][:, None, None] * ramps[1][None, :, None] * ramps[2][None, None, :]
    return Region(box, body, weight)
