"""Volume nodes <-> numpy arrays on a :class:`Grid` and SimpleITK images.

Geometry is the node's own IJK-to-RAS matrix: a parent transform of the node is not applied
(harden it first if the world geometry is wanted).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import SimpleITK as sitk
import slicer
import slicer.util
import vtk

from ..geometry import Grid, array_from_image

_INT_TYPES = (np.int16, np.int32)


def _matrix_to_numpy(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def grid_from_volume_node(node: Any) -> Grid:
    """Grid (size, spacing, RAS origin and directions) of a volume node that holds image data."""
    image = node.GetImageData() if node is not None else None
    if image is None:
        raise ValueError(f"volume node {node.GetName() if node else None!r} has no image data")
    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return Grid.from_ijk_to_ras(_matrix_to_numpy(matrix), image.GetDimensions())


def array_from_volume_node(node: Any) -> tuple[np.ndarray, Grid]:
    """A [k, j, i] copy of the voxels (later edits of either side do not leak) and the grid."""
    grid = grid_from_volume_node(node)
    return np.array(slicer.util.arrayFromVolume(node), copy=True), grid


def sitk_image_from_volume_node(node: Any) -> sitk.Image:
    """SimpleITK image of a volume node, geometry converted to LPS as ITK expects."""
    array, grid = array_from_volume_node(node)
    image = sitk.GetImageFromArray(array, isVector=array.ndim == 4)
    return grid.apply_to(image)


def _storable(array: np.ndarray) -> np.ndarray:
    """Voxels in a type MRML stores well: 64-bit integers narrowed (Slicer rejects them), bool as uint8."""
    if array.dtype == np.bool_:
        return array.astype(np.uint8)
    if array.dtype == np.float16:
        return array.astype(np.float32)
    if array.dtype in (np.int64, np.uint64):
        lo, hi = (int(array.min()), int(array.max())) if array.size else (0, 0)
        for t in _INT_TYPES:
            if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max:
                return array.astype(t)
        raise ValueError(f"voxel values {lo}..{hi} do not fit in int32, which is the widest integer Slicer stores")
    return array


def add_volume_node(scene: Any, array_kji: np.ndarray, grid: Grid, name: str, labelmap: bool = False) -> Any:
    """Add a new scalar (or labelmap) volume node holding a copy of ``array_kji`` on ``grid``."""
    array = np.asarray(array_kji)
    if array.ndim not in (3, 4) or array.shape[:3] != grid.array_shape:
        raise ValueError(f"array shape {array.shape} does not match grid shape (k, j, i) {grid.array_shape}")
    if labelmap and (array.ndim != 3 or not (np.issubdtype(array.dtype, np.integer) or array.dtype == np.bool_)):
        raise ValueError(f"a labelmap needs a 3D integer array, got {array.ndim}D {array.dtype}")
    array = _storable(array)
    class_name = "vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLScalarVolumeNode"
    if array.ndim == 4:
        class_name = "vtkMRMLVectorVolumeNode"
    node = scene.AddNewNodeByClass(class_name, name)
    slicer.util.updateVolumeFromArray(node, array)
    matrix = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            matrix.SetElement(r, c, float(grid.ijk_to_ras[r, c]))
    node.SetIJKToRASMatrix(matrix)
    node.CreateDefaultDisplayNodes()
    return node


def add_volume_node_from_image(scene: Any, image: sitk.Image, name: str, labelmap: bool = False) -> Any:
    """Add a new volume node from a SimpleITK image (LPS geometry converted to RAS)."""
    array, grid = array_from_image(image)
    return add_volume_node(scene, array, grid, name, labelmap=labelmap)
