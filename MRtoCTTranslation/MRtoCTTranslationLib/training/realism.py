"""Scanner, acquisition and anatomy variation drawn anew for every training sample of a fixed MR contrast.

A model trained on one simulated scanner learns that scanner's intensity curve, bias field, noise,
resolution and field of view as if they were anatomy. Drawing each of them at random for every
sample (domain randomisation, as SynthSR does for brain MR: Iglesias et al., Science Advances 2023;
and as nnU-Net's augmentation does for gamma, noise, blur and scale: Isensee et al., Nature Methods
2021) leaves the anatomy as the only thing that predicts the CT. Unlike ``contrast.random_contrast``,
the contrast itself (which tissue is bright) is kept: the aim is a T2w model that survives a real
T2w scanner, not a contrast-agnostic one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from SpineCoreLib.intensity import MRMapping
from SpineCoreLib.typed_fields import coerce_fields


@dataclass(frozen=True)
class MRRealism:
    """How far each property of a fixed-contrast MR may be moved; ``probability`` 0 turns it all off.

    gamma: intensities (scaled to [0, 1]) are raised to exp(U(-gamma, gamma)) - a different scanner curve.
    bias: standard deviation of the log bias field at 4x4x4 smooth control points (0.3: about x0.6..x1.6).
    noise: largest Rician noise level, as a fraction of the volume's 99th percentile.
    blur: largest Gaussian blur in voxels; thick_slices: largest slice thickness in voxels, averaged
    along one random axis (thick sagittal, coronal or axial slices).
    fov: largest fraction of each axis cut away before the intensity mapping is fitted, as a smaller
    or shifted field of view changes the percentiles a real scan is normalised with.
    scale: largest relative change of size per axis, of MR and CT together (anatomy variation).
    """

    probability: float = 0.0
    gamma: float = 0.3
    bias: float = 0.3
    noise: float = 0.05
    blur: float = 1.0
    thick_slices: int = 3
    fov: float = 0.4
    scale: float = 0.1

    @classmethod
    def from_json(cls, raw: dict, where: str = "mr_realism") -> MRRealism:
        known = {f.name for f in dataclasses.fields(cls)}
        if isinstance(raw, dict) and set(raw) - known:
            raise ValueError(f"{where}: unknown keys {sorted(set(raw) - known)}; known keys: {sorted(known)}")
        out = cls(**coerce_fields(cls, raw, where))
        out.validate(where)
        return out

    def validate(self, where: str = "mr_realism") -> None:
        """ValueError naming the first setting out of range."""
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"{where}: probability {self.probability} must be between 0 and 1")
        for name in ("gamma", "bias", "noise", "blur", "scale"):
            if not 0.0 <= getattr(self, name) <= (0.5 if name == "scale" else 5.0):
                raise ValueError(f"{where}: {name} {getattr(self, name)} is out of range (0 to "
                                 f"{0.5 if name == 'scale' else 5.0})")
        if not 0.0 <= self.fov < 1.0:
            raise ValueError(f"{where}: fov {self.fov} must be at least 0 and below 1")
        if not 1 <= self.thick_slices <= 8:
            raise ValueError(f"{where}: thick_slices {self.thick_slices} must be from 1 to 8 voxels")

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @property
    def enabled(self) -> bool:
        return self.probability > 0


def bias_field(shape: tuple[int, ...], strength: float, rng: np.random.Generator) -> np.ndarray:
    """A smooth multiplicative field, exp of cubic-interpolated Gaussian control points."""
    coarse = rng.normal(0.0, strength, (4, 4, 4))
    field = ndimage.zoom(coarse, [s / 4 for s in shape], order=3, mode="nearest")
    return np.exp(field[tuple(slice(0, s) for s in shape)]).astype(np.float32)


def vary_acquisition(mr: np.ndarray, cfg: MRRealism, rng: np.random.Generator) -> np.ndarray:
    """The raw MR (any scale) as another scanner might have acquired it: new curve, bias, blur, thick
    slices and noise, in that order (the order of the physics: signal, coil, resolution, receiver)."""
    a = np.asarray(mr, dtype=np.float32)
    lo, hi = np.percentile(a, [0.0, 99.9])
    x = np.clip((a - lo) / max(hi - lo, 1e-6), 0.0, None)
    x = x ** float(np.exp(rng.uniform(-cfg.gamma, cfg.gamma)))
    if cfg.bias > 0:
        x = x * bias_field(x.shape, cfg.bias, rng)
    if cfg.blur > 0:
        x = ndimage.gaussian_filter(x, sigma=float(rng.uniform(0.0, cfg.blur)))
    thick = int(rng.integers(1, cfg.thick_slices + 1))
    if thick > 1:
        x = ndimage.uniform_filter1d(x, size=thick, axis=int(rng.integers(x.ndim)))
    sigma = float(rng.uniform(0.0, cfg.noise)) * max(float(np.percentile(x, 99.0)), 1e-6)
    if sigma > 0:
        x = np.sqrt((x + rng.normal(0.0, sigma, x.shape)) ** 2 + rng.normal(0.0, sigma, x.shape) ** 2)
    return x.astype(np.float32)


def map_with_random_fov(mr: np.ndarray, mr_map: MRMapping, cfg: MRRealism, rng: np.random.Generator) -> np.ndarray:
    """``mr_map`` applied to the whole volume with the percentiles of a random sub-box of it."""
    box = []
    for n in mr.shape:
        keep = max(2, int(round(n * (1.0 - rng.uniform(0.0, cfg.fov)))))
        start = int(rng.integers(0, n - keep + 1))
        box.append(slice(start, start + keep))
    try:
        lo_hi = mr_map.fit(mr[tuple(box)])
    except ValueError:  # a constant corner (all air): fit on the whole volume instead
        lo_hi = mr_map.fit(mr)
    return mr_map.forward(mr, lo_hi)


def rescale_together(arrays: list[np.ndarray], cfg: MRRealism, rng: np.random.Generator) -> list[np.ndarray]:
    """The arrays zoomed by the same random factor per axis (linear interpolation), so the anatomy
    is larger or smaller while MR and CT stay aligned."""
    if cfg.scale <= 0:
        return arrays
    factors = [float(np.exp(rng.uniform(np.log(1 - cfg.scale), np.log(1 + cfg.scale)))) for _ in arrays[0].shape]
    return [ndimage.zoom(a, factors, order=1, mode="nearest", grid_mode=True).astype(np.float32) for a in arrays]
