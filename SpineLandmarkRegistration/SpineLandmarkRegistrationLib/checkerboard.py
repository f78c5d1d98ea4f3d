"""A checkerboard of two images on one grid: the way annotators judge a registration at edges (a
misaligned vertebra breaks at every square border), beside the fade between the two."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def normalised(values: np.ndarray, mask: np.ndarray | None = None, low: float = 1.0, high: float = 99.0) -> np.ndarray:
    """``values`` mapped to 0..1 by their ``low`` and ``high`` percentiles (inside ``mask``), clipped: MR
    and CT then share one display window."""
    sample = values[mask] if mask is not None and mask.any() else values.ravel()
    lo, hi = np.percentile(sample, [low, high]) if sample.size else (0.0, 1.0)
    scale = float(hi - lo) or 1.0
    return np.clip((values.astype(np.float32) - float(lo)) / scale, 0.0, 1.0)


def square_size(shape: Sequence[int], squares: int) -> tuple[int, ...]:
    """Voxels per square along each axis for about ``squares`` squares across the longest axis, the
    squares as cubic in voxels as the shape allows."""
    if squares < 1:
        raise ValueError(f"squares must be at least 1, got {squares}")
    side = max(1, math.ceil(max(shape) / squares))
    return tuple(min(side, int(n)) for n in shape)


def checkerboard(first: np.ndarray, second: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """``first`` in the squares whose index sum is even, ``second`` in the others (3D squares, so every
    slice orientation shows a checkerboard)."""
    if first.shape != second.shape:
        raise ValueError(f"the images differ in shape: {first.shape} and {second.shape}")
    index = sum(np.arange(n)[tuple(slice(None) if a == axis else None for a in range(first.ndim))] // s
                for axis, (n, s) in enumerate(zip(first.shape, size, strict=True)))
    return np.where(index % 2 == 0, first, second)
