"""Signed distance functions (negative inside, mm) of a vertebra in its local frame.

A vertebra is the union of an elliptic-cylinder body and bars (oriented rounded boxes) for
pedicles, laminae, spinous and transverse processes. Distances are exact for bars and
first-order for the ellipse, which is accurate near the surface where the cortical shell is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .anatomy import VertebraShape

F = np.float32


def sdf_elliptic_cylinder(x: np.ndarray, y: np.ndarray, z: np.ndarray, a: float, b: float, h: float) -> np.ndarray:
    """Elliptic cylinder with semi-axes ``a`` (x), ``b`` (y) and half height ``h`` (z)."""
    g = (x / a) ** 2 + (y / b) ** 2
    grad = 2.0 * np.sqrt((x / (a * a)) ** 2 + (y / (b * b)) ** 2) + F(1e-6)
    d_rad = (g - 1.0) / grad
    return np.maximum(d_rad, np.abs(z) - h)


@dataclass(frozen=True)
class Bar:
    """A rounded box from ``a`` to ``b`` with half width ``w`` and half height ``h`` (local mm).

    The height axis is the local z axis made orthogonal to the bar; the width axis completes it.
    """

    a: tuple[float, float, float]
    b: tuple[float, float, float]
    w: float
    h: float
    radius: float = 1.0

    def frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
        a, b = np.array(self.a), np.array(self.b)
        u = b - a
        length = float(np.linalg.norm(u))
        u /= length
        ref = np.array([0.0, 0.0, 1.0]) if abs(u[2]) < 0.9 else np.array([0.0, 1.0, 0.0])
        hz = ref - (ref @ u) * u
        hz /= np.linalg.norm(hz)
        hw = np.cross(hz, u)
        return (a + b) / 2, u, hw, hz, length

    def sdf(self, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
        c, u, hw, hz, length = self.frame()
        dx, dy, dz = x - F(c[0]), y - F(c[1]), z - F(c[2])
        r = self.radius
        q = []
        for axis, half in ((u, length / 2), (hw, self.w), (hz, self.h)):
            proj = dx * F(axis[0]) + dy * F(axis[1]) + dz * F(axis[2])
            q.append(np.abs(proj) - F(max(half - r, 0.0)))
        outside = np.sqrt(sum(np.maximum(qi, 0) ** 2 for qi in q))
        inside = np.minimum(np.maximum(np.maximum(q[0], q[1]), q[2]), 0)
        return outside + inside - F(r)


@dataclass(frozen=True)
class VertebraGeometry:
    """The primitives of one vertebra and its named points, all in the local frame."""

    shape: VertebraShape
    posterior: tuple[Bar, ...]
    points: dict[str, np.ndarray]
    extent: np.ndarray  # (3, 2) local bounding box


def vertebra_geometry(s: VertebraShape) -> VertebraGeometry:
    """Lay out pedicles, laminae, spinous and transverse processes around the canal."""
    cy = s.canal_y
    xp = s.canal_w / 2 + s.pedicle_w / 2 + 0.5
    zp = 0.12 * s.body_h
    y_wall = -s.body_d / 2
    y_pe = cy - 0.15 * s.canal_d  # posterior end of the pedicles
    ped_h = max(0.3 * s.body_h, 3.0)
    zl = zp - 0.1 * s.body_h
    y_lam = cy - s.canal_d / 2 - s.lamina_t / 2 - 1.0
    bars: list[Bar] = []
    for side in (-1.0, 1.0):
        bars.append(Bar((side * xp, y_wall + 3.0, zp), (side * xp, y_pe, zp), s.pedicle_w / 2, ped_h, 1.5))
        bars.append(Bar((side * xp, y_pe, zp), (0.0, y_lam, zl), s.lamina_t / 2, 0.35 * s.body_h, 1.5))
        bars.append(
            Bar((side * xp, y_pe, zp), (side * (xp + s.pedicle_w / 2 + s.transverse_len), y_pe - 2.0, zp),
                3.0, min(4.5, 0.3 * s.body_h), 1.5)
        )
    ang = np.radians(s.spinous_angle_deg)
    direction = np.array([0.0, -np.cos(ang), -np.sin(ang)])
    base = np.array([0.0, y_lam + 1.0, zl])
    tip = base + s.spinous_len * direction
    bars.append(Bar(tuple(base), tuple(tip), s.spinous_half_t, s.spinous_half_h, 2.0))

    ped_mid_y = (y_wall + y_pe) / 2
    points = {
        "body": np.zeros(3),
        "spinous": base + (s.spinous_len - min(6.0, s.spinous_len / 3)) * direction,
        "pedicle-left": np.array([-xp, ped_mid_y, zp]),  # local x is patient right, so left is -x
        "pedicle-right": np.array([xp, ped_mid_y, zp]),
    }
    xr = xp + s.pedicle_w / 2 + s.transverse_len + 4.0
    ext = np.array(
        [
            [-max(xr, s.body_w / 2 + 2), max(xr, s.body_w / 2 + 2)],
            [min(tip[1], y_lam) - s.spinous_half_h - 4.0, s.body_d / 2 + 2.0],
            [min(tip[2] - s.spinous_half_h, -s.body_h / 2) - 3.0, max(s.body_h / 2, zp + ped_h) + 3.0],
        ]
    )
    return VertebraGeometry(s, tuple(bars), points, ext)


def vertebra_sdf(geo: VertebraGeometry, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(signed distance of the whole vertebra, shell thickness to use at each point)."""
    s = geo.shape
    body = sdf_elliptic_cylinder(x, y, z, s.body_w / 2, s.body_d / 2, s.body_h / 2)
    post = geo.posterior[0].sdf(x, y, z)
    for bar in geo.posterior[1:]:
        post = np.minimum(post, bar.sdf(x, y, z))
    shell = np.where(body <= post, F(s.shell_body), F(s.shell_post))
    return np.minimum(body, post), shell
