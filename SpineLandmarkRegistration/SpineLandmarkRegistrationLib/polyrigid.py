"""Piecewise registration: one rigid transform per vertebra, blended into one smooth,
invertible deformation.

Each vertebra gets a weighted rigid fit of its own landmarks plus (with a lower weight) its
neighbours'. The rigid maps are blended in the log domain into a stationary velocity field
and exponentiated, which keeps the result a diffeomorphism with an exact inverse (the flow
of the negated field): the poly-rigid / log-Euclidean poly-affine framework of Arsigny et al.
(Medical Image Analysis 13(4), 2009). Weights follow the spine: they fall off with the distance
along each vertebra's cranio-caudal axis, so body and spinous process of a level move together.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg
import SimpleITK as sitk
from scipy import ndimage

from SpineCoreLib.geometry import Grid, ras_to_lps

from .fitting import fit_rigid
from .matching import MatchedLandmarks

NEIGHBOUR_WEIGHT = 0.3
LATERAL_FACTOR = 0.02  # how much off-axis distance counts, so far points settle on the nearest level
SQUARINGS = 7


@dataclass
class PolyrigidTransform:
    """Blend of per-vertebra rigid maps; all arrays in RAS (mm)."""

    levels: list[str]
    centres: np.ndarray  # (n, 3) fixed-space centre of each vertebra's landmarks
    tangents: np.ndarray  # (n, 3) cranio-caudal unit vector at each vertebra
    rigid_moving_to_fixed: np.ndarray  # (n, 4, 4)
    sigma: float
    mode: str = "piecewise"
    _logs: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        logs = []
        for m in self.rigid_moving_to_fixed:
            s = np.linalg.inv(m)  # fixed -> moving
            logs.append(np.real(scipy.linalg.logm(s)))
        self._logs = np.array(logs)

    # velocity field (fixed -> moving direction) ----------------------------------------------
    def weights(self, points: np.ndarray) -> np.ndarray:
        """(m, n) blending weights of the n vertebrae at m points (rows sum to 1)."""
        d = points[:, None, :] - self.centres[None, :, :]
        along = np.einsum("mnk,nk->mn", d, self.tangents)
        across2 = (d**2).sum(-1) - along**2
        e = -(along**2 + LATERAL_FACTOR * across2) / (2 * self.sigma**2)
        e -= e.max(axis=1, keepdims=True)
        w = np.exp(e)
        return w / w.sum(axis=1, keepdims=True)

    def velocity(self, points: np.ndarray, chunk: int = 100_000) -> np.ndarray:
        """Blended log-domain velocity at points (m, 3), computed in chunks to bound memory."""
        out = np.empty_like(points, dtype=float)
        for a in range(0, len(points), chunk):
            p = points[a : a + chunk]
            w = self.weights(p)
            lin = np.einsum("nij,mj->mni", self._logs[:, :3, :3], p) + self._logs[None, :, :3, 3]
            out[a : a + chunk] = np.einsum("mn,mni->mi", w, lin)
        return out

    def _flow(self, points: np.ndarray, sign: float, steps: int = 32) -> np.ndarray:
        x = np.asarray(points, dtype=float).reshape(-1, 3).copy()
        h = sign / steps
        for _ in range(steps):  # classical Runge-Kutta on the stationary field
            k1 = self.velocity(x)
            k2 = self.velocity(x + 0.5 * h * k1)
            k3 = self.velocity(x + 0.5 * h * k2)
            k4 = self.velocity(x + h * k3)
            x += h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        return x

    def fixed_to_moving(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=float)
        return self._flow(p, 1.0).reshape(p.shape)

    def moving_to_fixed(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=float)
        return self._flow(p, -1.0).reshape(p.shape)

    # dense field -----------------------------------------------------------------------------
    def displacement_field(self, grid: Grid, inverse: bool = False) -> np.ndarray:
        """Displacement (k, j, i, 3) RAS on ``grid``: fixed->moving, or moving->fixed if ``inverse``.

        Scaling and squaring of the velocity sampled on the grid.
        """
        k, j, i = grid.array_shape
        idx = np.stack(np.meshgrid(np.arange(k), np.arange(j), np.arange(i), indexing="ij"), -1).reshape(-1, 3)
        pts = grid.index_to_ras(idx[:, ::-1])
        v = self.velocity(pts) * (-1.0 if inverse else 1.0) / 2**SQUARINGS
        disp = v.reshape(k, j, i, 3)
        ras_to_ijk = grid.ras_to_ijk[:3, :3]
        for _ in range(SQUARINGS):
            # d(x) <- d(x) + d(x + d(x)), interpolating d at the displaced points
            shift_ijk = disp.reshape(-1, 3) @ ras_to_ijk.T  # (i, j, k) index offsets
            coords = (idx + shift_ijk[:, ::-1]).T  # numpy order (k, j, i)
            moved = np.stack(
                [ndimage.map_coordinates(disp[..., c], coords, order=1, mode="nearest") for c in range(3)], -1
            )
            disp = disp + moved.reshape(k, j, i, 3)
        return disp

    def to_sitk(self, domain: Grid | None = None) -> sitk.Transform:
        """ITK displacement-field transform (fixed LPS -> moving LPS) over ``domain``'s extent.

        The field lives on a grid of at most 3 mm spacing covering the domain (default: the
        landmarks with a 100 mm margin); outside it ITK applies no displacement.
        """
        grid = field_grid(domain if domain is not None else landmark_domain(self.centres))
        disp = self.displacement_field(grid)
        img = sitk.GetImageFromArray(ras_to_lps(disp).astype(np.float64), isVector=True)
        grid.apply_to(img)
        return sitk.DisplacementFieldTransform(img)


def landmark_domain(points: np.ndarray, margin: float = 100.0) -> Grid:
    """An axis-aligned RAS box around points, as a 1-voxel-spaced grid description."""
    lo, hi = points.min(axis=0) - margin, points.max(axis=0) + margin
    size = tuple(int(np.ceil(s)) + 1 for s in hi - lo)
    return Grid(size, (1.0, 1.0, 1.0), tuple(float(v) for v in lo), ((1.0, 0, 0), (0, 1.0, 0), (0, 0, 1.0)))


def field_grid(domain: Grid, spacing: float = 3.0) -> Grid:
    """A grid with ``domain``'s orientation covering its extent plus one cell, at ``spacing``."""
    extent = (np.array(domain.size) - 1) * np.array(domain.spacing)
    sp = np.full(3, float(spacing))
    size = np.ceil(extent / sp).astype(int) + 3
    origin = np.array(domain.origin) - domain.direction_matrix @ sp
    return Grid(tuple(int(s) for s in size), tuple(float(v) for v in sp), tuple(float(v) for v in origin), domain.direction)


def fit_polyrigid(matched: MatchedLandmarks, fallback: np.ndarray) -> PolyrigidTransform:
    """Fit one rigid map per vertebra (own points weight 1, neighbours' ``NEIGHBOUR_WEIGHT``).

    ``fallback`` (the global rigid fit) is used for a level whose points cannot determine a fit.
    """
    levels = list(dict.fromkeys(matched.levels))
    lv = np.array(matched.levels)
    centres = np.array([matched.fixed[lv == level].mean(axis=0) for level in levels])
    mats = []
    for n, level in enumerate(levels):
        w = np.where(lv == level, 1.0, 0.0)
        for nb in (n - 1, n + 1):
            if 0 <= nb < len(levels):
                w[lv == levels[nb]] = NEIGHBOUR_WEIGHT
        sel = w > 0
        pts = matched.fixed[sel]
        sv = np.linalg.svd(pts - pts.mean(0), compute_uv=False) if len(pts) >= 3 else np.zeros(3)
        if len(pts) < 3 or sv[1] < 1e-3 * max(sv[0], 1.0):
            mats.append(fallback)
        else:
            mats.append(fit_rigid(matched.fixed[sel], matched.moving[sel], w[sel]))
    if len(levels) == 1:
        tangents = np.array([[0.0, 0.0, 1.0]])
        sigma = 20.0
    else:
        grad = np.gradient(centres, axis=0)
        tangents = grad / np.linalg.norm(grad, axis=1, keepdims=True)
        gaps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
        sigma = 0.4 * float(np.median(gaps))
    return PolyrigidTransform(levels, centres, tangents, np.array(mats), sigma)
