"""Registration transforms in MRML: a core :class:`Registration` written into a transform node (a linear
node whose matrix-to-parent is the moving->fixed RAS matrix, or, mode "piecewise", a grid node holding
the fixed->moving displacement as its transform from parent, which is what Slicer resamples a volume
placed under it with), read back, points moved through it, and a volume copied with it hardened in.

Only ``slicer.vtkMRML*`` classes, module logic classes and vtk are used (no ``slicer.app``, qt or ctk).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk
import slicer
import vtk
from vtk.util import numpy_support

from SpineCoreLib.geometry import Grid, ras_to_lps

from ..polyrigid import field_grid, landmark_domain
from ..register import Registration
from ..transforms import LinearTransform, RegistrationTransform

ATTR = "SpineLandmarkRegistration."
LINEAR_MODES = ("rigid", "similarity", "affine")
FIELD_SPACING_MM = 3.0  # grid of a piecewise transform node (and of exported displacement fields)
DOMAIN_MARGIN_MM = 50.0  # field extent around the landmarks when no fixed volume is given


# --- small conversions -------------------------------------------------------------------------


def _vtk_matrix(array: np.ndarray) -> vtk.vtkMatrix4x4:
    m = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            m.SetElement(r, c, float(array[r, c]))
    return m


def _numpy_matrix(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def _transform_points(transform: vtk.vtkAbstractTransform, points: np.ndarray) -> np.ndarray:
    """Apply a VTK transform to (..., 3) points in one call."""
    p = np.ascontiguousarray(np.asarray(points, dtype=float).reshape(-1, 3))
    src = vtk.vtkPoints()
    src.SetData(numpy_support.numpy_to_vtk(p, deep=True))
    dst = vtk.vtkPoints()
    transform.TransformPoints(src, dst)
    return numpy_support.vtk_to_numpy(dst.GetData()).astype(float).reshape(np.shape(points))


def transform_points_to_world(transform_node: Any, points: np.ndarray) -> np.ndarray:
    """Where points of a node placed under ``transform_node`` are displayed (its transform to world)."""
    t = vtk.vtkGeneralTransform()
    transform_node.GetTransformToWorld(t)
    return _transform_points(t, points)


def transform_points_from_world(transform_node: Any, points: np.ndarray) -> np.ndarray:
    """World points mapped into the space of a node placed under ``transform_node`` (resampling direction)."""
    t = vtk.vtkGeneralTransform()
    transform_node.GetTransformFromWorld(t)
    return _transform_points(t, points)


# --- transform nodes ---------------------------------------------------------------------------


def _domain(registration: Registration, domain_grid: Grid | None) -> Grid:
    if domain_grid is not None:
        return domain_grid
    return landmark_domain(registration.matched.fixed, DOMAIN_MARGIN_MM)


def displacement_grid(domain: Grid, spacing: float, max_points: int | None = None) -> Grid:
    """The field grid over ``domain`` at ``spacing`` mm, coarsened until it has at most ``max_points``."""
    grid = field_grid(domain, spacing)
    while max_points is not None and int(np.prod(grid.size)) > max_points:
        spacing *= 1.25
        grid = field_grid(domain, spacing)
    return grid


def grid_transform(displacement_kji: np.ndarray, grid: Grid) -> Any:
    """A ``vtkOrientedGridTransform`` holding a (k, j, i, 3) RAS displacement field on ``grid``."""
    image = vtk.vtkImageData()
    image.SetDimensions(*grid.size)
    image.SetSpacing(*grid.spacing)
    image.SetOrigin(*grid.origin)
    vectors = numpy_support.numpy_to_vtk(
        np.ascontiguousarray(displacement_kji, dtype=np.float64).reshape(-1, 3), deep=True, array_type=vtk.VTK_DOUBLE
    )
    vectors.SetNumberOfComponents(3)
    image.GetPointData().SetScalars(vectors)
    transform = slicer.vtkOrientedGridTransform()
    transform.SetDisplacementGridData(image)
    direction = np.eye(4)
    direction[:3, :3] = grid.direction_matrix
    transform.SetGridDirectionMatrix(_vtk_matrix(direction))
    transform.SetInterpolationModeToCubic()
    return transform


def update_transform_node(scene: Any, registration: Registration, transform_node: Any = None,
                          domain_grid: Grid | None = None, spacing: float = FIELD_SPACING_MM,
                          max_points: int | None = None) -> Any:
    """Write ``registration`` into ``transform_node`` (reused when its class fits) or a new node.

    Linear modes give a ``vtkMRMLLinearTransformNode`` whose matrix-to-parent is the moving->fixed
    RAS matrix. "piecewise" gives a ``vtkMRMLGridTransformNode`` whose transform from parent is
    the fixed->moving displacement sampled every ``spacing`` mm over ``domain_grid`` (e.g. the
    fixed volume's grid; default: the fixed landmarks plus 50 mm), coarser where needed to keep
    at most ``max_points`` samples. In both cases a moving volume or point list placed under the
    node is displayed on the fixed one. No volume is modified.
    """
    transform = registration.transform
    mode = transform.mode
    if mode in LINEAR_MODES:
        class_name = "vtkMRMLLinearTransformNode"
    elif hasattr(transform, "displacement_field"):
        class_name = "vtkMRMLGridTransformNode"
    else:
        raise ValueError(f"no MRML transform node for registration mode {mode!r}")
    if transform_node is None or not transform_node.IsA(class_name):
        base = transform_node.GetName() if transform_node is not None else "registration"
        transform_node = scene.AddNewNodeByClass(class_name, scene.GenerateUniqueName(f"{base} ({mode})"))
    if class_name == "vtkMRMLLinearTransformNode":
        transform_node.SetMatrixTransformToParent(_vtk_matrix(transform.matrix))
    else:
        grid = displacement_grid(_domain(registration, domain_grid), spacing, max_points)
        transform_node.SetAndObserveTransformFromParent(grid_transform(transform.displacement_field(grid), grid))
    transform_node.SetAttribute(ATTR + "mode", mode)
    transform_node.SetAttribute(ATTR + "rms_mm", f"{registration.report.rms_mm:.6g}")
    return transform_node


@dataclass
class NodeTransform:
    """A transform node seen through the core's :class:`RegistrationTransform` protocol.

    Lets a transform made or edited in Slicer (any kind, including non-linear) be exported with
    the core's pair export: ``to_sitk`` samples the node's from-world transform on a grid.
    """

    node: Any
    mode: str = "node"
    spacing: float = FIELD_SPACING_MM

    def moving_to_fixed(self, points: np.ndarray) -> np.ndarray:
        return transform_points_to_world(self.node, points)

    def fixed_to_moving(self, points: np.ndarray) -> np.ndarray:
        return transform_points_from_world(self.node, points)

    def to_sitk(self, domain: Grid | None = None) -> sitk.Transform:
        if domain is None:
            raise ValueError("a non-linear transform node needs the fixed grid to sample it on")
        grid = field_grid(domain, self.spacing)
        k, j, i = grid.array_shape
        idx = np.stack(np.meshgrid(np.arange(k), np.arange(j), np.arange(i), indexing="ij"), -1).reshape(-1, 3)
        pts = grid.index_to_ras(idx[:, ::-1])
        disp = (self.fixed_to_moving(pts) - pts).reshape(k, j, i, 3)
        image = sitk.GetImageFromArray(ras_to_lps(disp).astype(np.float64), isVector=True)
        grid.apply_to(image)
        return sitk.DisplacementFieldTransform(image)


def core_transform_from_node(transform_node: Any) -> RegistrationTransform:
    """The moving->fixed transform a node applies to what is placed under it, as a core transform.

    Linear (to world) gives a :class:`LinearTransform`; anything else a :class:`NodeTransform`.
    """
    if transform_node is None:
        raise ValueError("no transform node given")
    if transform_node.IsTransformToWorldLinear():
        m = vtk.vtkMatrix4x4()
        transform_node.GetMatrixTransformToWorld(m)
        return LinearTransform(_numpy_matrix(m), transform_node.GetAttribute(ATTR + "mode") or "affine")
    return NodeTransform(transform_node)



# --- hardened copy -----------------------------------------------------------------------------


def harden_copy(scene: Any, moving_volume: Any, transform_node: Any, name: str) -> Any:
    """A new volume: a copy of ``moving_volume`` with ``transform_node`` hardened into it.

    A linear transform changes only the copy's IJK-to-RAS matrix; a non-linear one resamples the
    copy. The input volume's voxels and parent transform reference are left exactly as they were.
    """
    if moving_volume is None or moving_volume.GetImageData() is None:
        raise ValueError("harden_copy needs a volume with image data")
    if transform_node is None:
        raise ValueError("harden_copy needs a transform node")
    parent_id = moving_volume.GetTransformNodeID()
    clone = slicer.vtkSlicerVolumesLogic.CloneVolumeGeneric(scene, moving_volume, name, True)
    if clone is None:
        raise RuntimeError(f"could not copy volume {moving_volume.GetName()!r}")
    clone.SetAndObserveTransformNodeID(transform_node.GetID())
    if not slicer.vtkSlicerTransformLogic.hardenTransform(clone):
        scene.RemoveNode(clone)
        raise RuntimeError(f"could not harden {transform_node.GetName()!r} on the copy of {moving_volume.GetName()!r}")
    if moving_volume.GetTransformNodeID() != parent_id:  # defensive: the input must keep its parent
        moving_volume.SetAndObserveTransformNodeID(parent_id)
    return clone
