"""Closed-form least-squares fits of point pairs: rigid, similarity and affine.

Each returns the 4x4 matrix that maps ``moving`` points onto ``fixed`` points (RAS).
Rigid and similarity follow Umeyama (IEEE TPAMI 13(4), 1991), the SVD form of Horn's
closed-form absolute orientation (JOSA A 4(4), 1987) that SimpleITK's
LandmarkBasedTransformInitializer also solves; Graf et al. (Eur Radiol Exp
2023) registers MR and CT with this rigid fit on two landmarks per vertebra.
"""

from __future__ import annotations

import numpy as np

from .matching import LandmarkError

MIN_POINTS = {"rigid": 3, "similarity": 3, "affine": 4}


def _weights(n: int, w: np.ndarray | None) -> np.ndarray:
    w = np.ones(n) if w is None else np.asarray(w, dtype=float)
    return w / w.sum()


def fit_similarity(fixed: np.ndarray, moving: np.ndarray, weights: np.ndarray | None = None,
                   scale: bool = True) -> np.ndarray:
    """Weighted Umeyama fit; ``scale=False`` gives the rigid fit."""
    w = _weights(len(fixed), weights)
    mu_f, mu_m = w @ fixed, w @ moving
    f0, m0 = fixed - mu_f, moving - mu_m
    cov = (m0 * w[:, None]).T @ f0  # sum w m f^T
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(3)
    if np.linalg.det(vt.T @ u.T) < 0:
        d[2] = -1.0
    r = vt.T @ np.diag(d) @ u.T
    c = float((s * d).sum() / (w @ (m0**2).sum(axis=1))) if scale else 1.0
    out = np.eye(4)
    out[:3, :3] = c * r
    out[:3, 3] = mu_f - c * r @ mu_m
    return out


def fit_rigid(fixed: np.ndarray, moving: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Least-squares rotation and translation (no scaling)."""
    return fit_similarity(fixed, moving, weights, scale=False)


def fit_affine(fixed: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """Least-squares 12-parameter affine map."""
    a = np.hstack([moving, np.ones((len(moving), 1))])
    sol, *_ = np.linalg.lstsq(a, fixed, rcond=None)
    out = np.eye(4)
    out[:3, :] = sol.T
    return out


def check_configuration(points: np.ndarray, mode: str) -> np.ndarray:
    """Singular values of the centred points; raise when the fit is not determined at all."""
    need = MIN_POINTS.get(mode, 3)
    if len(points) < need:
        raise LandmarkError(
            f"{mode} registration needs at least {need} matched landmarks placed in both images, "
            f"got {len(points)}: place more points"
        )
    sv = np.linalg.svd(points - points.mean(axis=0), compute_uv=False)
    if sv[1] <= 1e-6 * max(sv[0], 1.0):
        raise LandmarkError(f"the {len(points)} matched landmarks are collinear: a {mode} fit is undetermined; "
                            "place both the body and the spinous process of each vertebra")
    if mode == "affine" and sv[2] <= 1e-6 * max(sv[0], 1.0):
        raise LandmarkError("the matched landmarks are coplanar: an affine fit needs four non-coplanar points")
    return sv


def fit(mode: str, fixed: np.ndarray, moving: np.ndarray) -> np.ndarray:
    """Dispatch to the linear fit of ``mode`` (rigid, similarity or affine)."""
    if mode == "rigid":
        return fit_rigid(fixed, moving)
    if mode == "similarity":
        return fit_similarity(fixed, moving)
    if mode == "affine":
        return fit_affine(fixed, moving)
    raise ValueError(f"unknown linear mode {mode!r}")
