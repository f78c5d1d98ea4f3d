"""Small helpers for 4x4 rigid transforms (RAS, mm)."""

from __future__ import annotations

import numpy as np


def rotation(axis: np.ndarray | list[float], angle_rad: float) -> np.ndarray:
    """3x3 rotation about a unit ``axis`` by ``angle_rad`` (right-hand rule)."""
    a = np.asarray(axis, dtype=float)
    a = a / np.linalg.norm(a)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle_rad) * k + (1 - np.cos(angle_rad)) * (k @ k)


def rot_x(angle_rad: float) -> np.ndarray:
    return rotation([1.0, 0.0, 0.0], angle_rad)


def rot_y(angle_rad: float) -> np.ndarray:
    return rotation([0.0, 1.0, 0.0], angle_rad)


def rot_z(angle_rad: float) -> np.ndarray:
    return rotation([0.0, 0.0, 1.0], angle_rad)


def rigid(r: np.ndarray, t: np.ndarray | list[float]) -> np.ndarray:
    """4x4 matrix of rotation ``r`` then translation ``t``."""
    m = np.eye(4)
    m[:3, :3] = r
    m[:3, 3] = t
    return m


def apply(m: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to points (..., 3)."""
    p = np.asarray(points, dtype=float)
    return p @ m[:3, :3].T + m[:3, 3]


def invert_rigid(m: np.ndarray) -> np.ndarray:
    """Exact inverse of a rigid 4x4 transform."""
    r = m[:3, :3]
    return rigid(r.T, -r.T @ m[:3, 3])


def kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares rigid 4x4 mapping ``source`` points onto ``target`` points (Kabsch 1976)."""
    cs, ct = source.mean(axis=0), target.mean(axis=0)
    h = (source - cs).T @ (target - ct)
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return rigid(r, ct - r @ cs)
