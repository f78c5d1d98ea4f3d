"""Spatial transforms produced by a registration, in the project's RAS convention.

Every transform knows both directions: ``moving_to_fixed`` (how landmarks move; what Slicer's
"to parent" matrix does to a moving volume placed under it) and ``fixed_to_moving`` (what
resampling the moving image onto the fixed grid needs; what ITK transform files store).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.geometry import Grid, ras_matrix_to_lps


class RegistrationTransform(Protocol):
    mode: str

    def moving_to_fixed(self, points: np.ndarray) -> np.ndarray: ...

    def fixed_to_moving(self, points: np.ndarray) -> np.ndarray: ...

    def to_sitk(self, domain: Grid | None = None) -> sitk.Transform:
        """ITK transform mapping fixed LPS points to moving LPS points (resampling direction)."""
        ...


@dataclass
class LinearTransform:
    """A 4x4 matrix mapping moving RAS points onto fixed RAS points."""

    matrix: np.ndarray
    mode: str = "rigid"

    def moving_to_fixed(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=float)
        return p @ self.matrix[:3, :3].T + self.matrix[:3, 3]

    def fixed_to_moving(self, points: np.ndarray) -> np.ndarray:
        inv = np.linalg.inv(self.matrix)
        p = np.asarray(points, dtype=float)
        return p @ inv[:3, :3].T + inv[:3, 3]

    def to_sitk(self, domain: Grid | None = None) -> sitk.Transform:
        lps = ras_matrix_to_lps(np.linalg.inv(self.matrix))
        t = sitk.AffineTransform(3)
        t.SetMatrix(tuple(float(v) for v in lps[:3, :3].ravel()))
        t.SetTranslation(tuple(float(v) for v in lps[:3, 3]))
        return t


def linear_from_sitk(t: sitk.Transform) -> LinearTransform:
    """Inverse of ``LinearTransform.to_sitk`` for any linear ITK transform (Euler, versor, affine)."""
    dim = t.GetDimension()
    if dim != 3:
        raise ValueError("expected a 3D transform")
    a = sitk.AffineTransform(3)
    try:
        a.SetMatrix(t.GetMatrix())
        a.SetTranslation(t.GetTranslation())
        a.SetCenter(t.GetCenter())
    except (AttributeError, RuntimeError) as exc:
        raise ValueError(f"{t.GetName()} is not a linear transform") from exc
    m = np.eye(4)
    m[:3, :3] = np.array(a.GetMatrix()).reshape(3, 3)
    c = np.array(a.GetCenter())
    m[:3, 3] = np.array(a.GetTranslation()) + c - m[:3, :3] @ c
    fixed_to_moving_ras = ras_matrix_to_lps(m)
    return LinearTransform(np.linalg.inv(fixed_to_moving_ras), "affine")
