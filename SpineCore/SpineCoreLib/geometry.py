"""The project's one geometry convention, and the conversions that keep it.

* Inside the core and in Slicer, physical points are **RAS** millimetres:
  +x = Right, +y = Anterior, +z = Superior.
* ITK, SimpleITK and every file the project writes (NIfTI, NRRD, ITK transforms, markups JSON
  written with ``coordinateSystem: LPS``) use **LPS**: +x = Left, +y = Posterior, +z = Superior.
* The two differ by ``diag(-1, -1, 1)``; converting is its own inverse.
* A voxel grid is described by its IJK-to-RAS 4x4 matrix (Slicer's ``GetIJKToRASMatrix``):
  columns 0-2 are the direction of each index axis times its spacing, column 3 the RAS
  position of voxel (0, 0, 0)'s centre.
* numpy arrays of volumes are indexed ``[k, j, i]`` (slowest axis first), as both
  ``SimpleITK.GetArrayFromImage`` and ``slicer.util.arrayFromVolume`` give them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

LPS_FROM_RAS = np.diag([-1.0, -1.0, 1.0])


def ras_to_lps(points: np.ndarray) -> np.ndarray:
    """Flip x and y of points given as (..., 3); works for either direction of the conversion."""
    pts = np.asarray(points, dtype=float)
    return pts * np.array([-1.0, -1.0, 1.0])


lps_to_ras = ras_to_lps


def ras_matrix_to_lps(matrix: np.ndarray) -> np.ndarray:
    """Express a 4x4 transform acting on RAS points as one acting on LPS points (and back)."""
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    return flip @ np.asarray(matrix, dtype=float) @ flip


@dataclass(frozen=True)
class Grid:
    """A voxel grid: ``size`` (i, j, k), ``spacing`` (i, j, k) in mm, RAS origin and directions.

    ``direction`` has one column per index axis, each a unit vector in RAS.
    """

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: tuple[tuple[float, float, float], ...]

    @classmethod
    def from_ijk_to_ras(cls, matrix: np.ndarray, size: tuple[int, int, int]) -> Grid:
        """Grid of a Slicer-style IJK-to-RAS matrix (4x4) and a size (i, j, k)."""
        m = np.asarray(matrix, dtype=float)
        spacing = np.linalg.norm(m[:3, :3], axis=0)
        if np.any(spacing <= 0):
            raise ValueError("IJK-to-RAS matrix has a zero-length axis")
        direction = m[:3, :3] / spacing
        return cls(
            size=tuple(int(s) for s in size),
            spacing=tuple(float(s) for s in spacing),
            origin=tuple(float(v) for v in m[:3, 3]),
            direction=tuple(tuple(float(v) for v in row) for row in direction),
        )

    @classmethod
    def from_image(cls, image: sitk.Image) -> Grid:
        """Grid of a SimpleITK image (whose geometry is LPS)."""
        if image.GetDimension() != 3:
            raise ValueError(f"expected a 3D image, got {image.GetDimension()}D")
        d_lps = np.array(image.GetDirection(), dtype=float).reshape(3, 3)
        d_ras = LPS_FROM_RAS @ d_lps
        origin = ras_to_lps(np.array(image.GetOrigin()))
        return cls(
            size=tuple(int(s) for s in image.GetSize()),
            spacing=tuple(float(s) for s in image.GetSpacing()),
            origin=tuple(float(v) for v in origin),
            direction=tuple(tuple(float(v) for v in row) for row in d_ras),
        )

    @property
    def direction_matrix(self) -> np.ndarray:
        return np.array(self.direction, dtype=float)

    @property
    def ijk_to_ras(self) -> np.ndarray:
        """4x4 IJK-to-RAS matrix, as Slicer's ``vtkMRMLVolumeNode.GetIJKToRASMatrix``."""
        m = np.eye(4)
        m[:3, :3] = self.direction_matrix * np.array(self.spacing)
        m[:3, 3] = self.origin
        return m

    @property
    def ras_to_ijk(self) -> np.ndarray:
        return np.linalg.inv(self.ijk_to_ras)

    def index_to_ras(self, ijk: np.ndarray) -> np.ndarray:
        """RAS points of continuous indices (..., 3) in (i, j, k) order."""
        ijk = np.asarray(ijk, dtype=float)
        m = self.ijk_to_ras
        return ijk @ m[:3, :3].T + m[:3, 3]

    def ras_to_index(self, ras: np.ndarray) -> np.ndarray:
        """Continuous (i, j, k) indices of RAS points (..., 3)."""
        ras = np.asarray(ras, dtype=float)
        m = self.ras_to_ijk
        return ras @ m[:3, :3].T + m[:3, 3]

    @property
    def array_shape(self) -> tuple[int, int, int]:
        """numpy shape (k, j, i) of an array on this grid."""
        return (self.size[2], self.size[1], self.size[0])

    def apply_to(self, image: sitk.Image) -> sitk.Image:
        """Set this grid's geometry (converted to LPS) on ``image`` and return it."""
        image.SetSpacing(self.spacing)
        image.SetOrigin(tuple(float(v) for v in ras_to_lps(np.array(self.origin))))
        image.SetDirection(tuple(float(v) for v in (LPS_FROM_RAS @ self.direction_matrix).ravel()))
        return image


def image_from_array(array_kji: np.ndarray, grid: Grid) -> sitk.Image:
    """SimpleITK image of a [k, j, i] array on ``grid`` (geometry written in LPS)."""
    arr = np.asarray(array_kji)
    if arr.shape != grid.array_shape:
        raise ValueError(f"array shape {arr.shape} does not match grid shape (k, j, i) {grid.array_shape}")
    return grid.apply_to(sitk.GetImageFromArray(arr))


def array_from_image(image: sitk.Image) -> tuple[np.ndarray, Grid]:
    """[k, j, i] array and RAS grid of a SimpleITK image."""
    return sitk.GetArrayFromImage(image), Grid.from_image(image)
