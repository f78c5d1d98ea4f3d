"""Intensity mappings between images and network values; stored in every model card so that
inference always matches training.

MR: robust percentiles of the foreground (0.5 and 99.5 %, as ALDM and the seed notes suggest
instead of the maximum, which one bright voxel can dominate) mapped to [-1, 1]. CT: Hounsfield
units clipped to [-1024, 3071] and divided by 1000, so soft tissue keeps its contrast and dense
cortical bone is not clipped at 1000 HU.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

HU_RANGE = (-1024.0, 3071.0)


def foreground_threshold(a: np.ndarray, fraction: float) -> float | None:
    """The intensity above which an MR voxel counts as body: ``fraction`` of the way from the minimum to
    the 99.9th percentile (from the minimum, so that a constant offset cancels); None for a flat volume."""
    low, top = float(a.min()), float(np.percentile(a, 99.9))
    return low + fraction * (top - low) if top > low else None


@dataclass(frozen=True)
class MRMapping:
    """Robust percentile scaling of an MR volume to about [-1, 1]."""

    low_percentile: float = 0.5
    high_percentile: float = 99.5
    foreground_fraction: float = 0.05  # voxels above this fraction of the way from the minimum to the 99.9th
    # percentile count (from the minimum, so that a constant offset such as a signed type's shift cancels)

    def fit(self, mr: np.ndarray) -> tuple[float, float]:
        """(low, high) intensities of this volume; ValueError for a constant or empty one."""
        a = np.asarray(mr, dtype=np.float32)
        if a.size == 0 or not np.all(np.isfinite(a)):
            raise ValueError("the MR volume is empty or has NaN/infinite voxels: fix or crop the input")
        threshold = foreground_threshold(a, self.foreground_fraction)
        fg = a[a > threshold] if threshold is not None else a
        if fg.size < 10:
            fg = a.ravel()
        lo, hi = np.percentile(fg, [self.low_percentile, self.high_percentile])
        if not hi > lo:
            raise ValueError("the MR volume is constant: there is nothing to translate")
        return float(lo), float(hi)

    def forward(self, mr: np.ndarray, lo_hi: tuple[float, float] | None = None) -> np.ndarray:
        lo, hi = lo_hi if lo_hi is not None else self.fit(mr)
        return (2.0 * (np.asarray(mr, dtype=np.float32) - lo) / (hi - lo) - 1.0).astype(np.float32)

    def to_json(self) -> dict:
        return {"kind": "mr_robust_percentiles", **asdict(self)}


@dataclass(frozen=True)
class CTMapping:
    """HU -> (clip(HU) - offset) / scale and back; with ``asinh_hu`` > 0 the HU around ``offset`` are
    first compressed as asinh((HU - offset) / asinh_hu) * asinh_hu.

    The compressed form is for the latent models' shared autoencoder: linearly, every soft tissue
    lies within 0.2 of a [-1, 1] range that MR contrasts fill, so an error that is small for an MR
    is a whole tissue contrast in CT. Compressed (offset 40, asinh_hu 100, scale 300), the values
    still span about [-1, 1.4], soft tissue gets about 3.3x the resolution and bone about a third.
    """

    offset: float = 0.0
    scale: float = 1000.0
    hu_min: float = HU_RANGE[0]
    hu_max: float = HU_RANGE[1]
    asinh_hu: float = 0.0  # 0: linear

    def forward(self, hu: np.ndarray) -> np.ndarray:
        x = np.clip(np.asarray(hu, dtype=np.float32), self.hu_min, self.hu_max) - self.offset
        if self.asinh_hu > 0:
            x = np.arcsinh(x / self.asinh_hu) * self.asinh_hu
        return (x / self.scale).astype(np.float32)

    def inverse(self, values: np.ndarray) -> np.ndarray:
        x = np.asarray(values, dtype=np.float32) * self.scale
        if self.asinh_hu > 0:
            x = np.sinh(np.clip(x / self.asinh_hu, -80.0, 80.0)) * self.asinh_hu
        return np.clip(x + self.offset, self.hu_min, self.hu_max).astype(np.float32)

    @property
    def valid_range(self) -> tuple[float, float]:
        """Range of network values that map to valid HU: where sampling clips the predicted image."""
        def value(hu: float) -> float:  # in double precision: the linear range stays exact
            x = hu - self.offset
            return (math.asinh(x / self.asinh_hu) * self.asinh_hu if self.asinh_hu > 0 else x) / self.scale

        return value(self.hu_min), value(self.hu_max)

    def to_json(self) -> dict:
        return {"kind": "ct_hounsfield", **asdict(self)}
