"""Registration results in MRML: transform nodes, residuals, live update, hardened copies.

* :func:`update_transform_node` writes a core :class:`Registration` into a transform node: a
  linear node whose matrix-to-parent is the moving->fixed RAS matrix, or (mode "piecewise") a grid
  node holding the fixed->moving displacement as its transform *from* parent, which is what Slicer
  resamples a volume placed under it with. Either way a moving volume placed under the node is
  displayed on the fixed one.
* :func:`write_residuals` puts each pair's residual into both point lists' descriptions and a
  table node (label, residual_mm, loo_mm, status); RMS, mode, warnings and errors are attributes.
* :class:`LiveRegistration` recomputes both on every control point change.
* :func:`harden_copy` clones a volume and hardens the transform on the clone only.

Only ``slicer.vtkMRML*`` classes, module logic classes and vtk are used (no ``slicer.app``, qt or
ctk); every function takes the scene or nodes it works on.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import SimpleITK as sitk
import slicer
import vtk
from vtk.util import numpy_support

from SpineCoreLib.geometry import Grid, ras_to_lps
from SpineCoreLib.levels import LANDMARK_KINDS, landmark_names, parse_landmark_name, parse_level_range
from SpineCoreLib.markups_io import Landmark, LandmarkSet
from SpineCoreLib.mrml.markups import add_markups_node, landmark_set_from_markups_node

from ..polyrigid import field_grid, landmark_domain
from ..register import Registration, register
from ..transforms import LinearTransform, RegistrationTransform

log = logging.getLogger(__name__)

ATTR = "SpineLandmarkRegistration."
LINEAR_MODES = ("rigid", "similarity", "affine")
FIELD_SPACING_MM = 3.0  # grid of a piecewise transform node (and of exported displacement fields)
PREVIEW_SPACING_MM = 6.0  # coarser grid while the annotator drags points (8x fewer samples) ...
PREVIEW_MAX_POINTS = 30_000  # ... and coarser still over a large field of view (about 0.2 s per update)
DOMAIN_MARGIN_MM = 50.0  # field extent around the landmarks when no fixed volume is given
RESIDUAL_COLUMNS = ("label", "residual_mm", "loo_mm", "status")
STATUSES = ("matched", "only fixed", "only moving", "unplaced")
_DESCRIPTION_PREFIX = "residual "
MARKUPS_EVENTS = (
    "PointAddedEvent",
    "PointRemovedEvent",
    "PointModifiedEvent",
    "PointPositionDefinedEvent",
    "PointPositionUndefinedEvent",
)


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


# --- residuals ---------------------------------------------------------------------------------


def _statuses(fixed: LandmarkSet, moving: LandmarkSet) -> dict[str, str]:
    """Status of every label named in either list, fixed order first."""
    f, m = fixed.defined(), moving.defined()
    out: dict[str, str] = {}
    for label in fixed.labels() + moving.labels():
        if label in out:
            continue
        placed_f, placed_m = label in f, label in m
        out[label] = ("matched" if placed_m else "only fixed") if placed_f else (
            "only moving" if placed_m else "unplaced")
    return out


def _description(residual: float | None, loo: float | None) -> str:
    if residual is None:
        return ""
    text = f"{_DESCRIPTION_PREFIX}{residual:.2f} mm"
    if loo is not None and math.isfinite(loo):
        text += f", leave-one-out {loo:.2f} mm"
    return text


def _write_descriptions(node: Any, residuals: dict[str, float], loo: dict[str, float]) -> None:
    """Residual text into each point's description; stale residual text removed; others kept."""
    for i in range(node.GetNumberOfControlPoints()):
        label = node.GetNthControlPointLabel(i)
        old = node.GetNthControlPointDescription(i) or ""
        if label in residuals:
            new = _description(residuals[label], loo.get(label))
        elif old.startswith(_DESCRIPTION_PREFIX):
            new = ""
        else:
            continue
        if new != old:  # every change fires PointModifiedEvent: only touch what changes
            node.SetNthControlPointDescription(i, new)


def write_residuals(registration: Registration | None, fixed_markups: Any, moving_markups: Any,
                    table_node: Any = None, error: str | None = None) -> Any:
    """Residuals of ``registration`` into both point lists' descriptions and a table node.

    Table columns: label, residual_mm, loo_mm (NaN where not computed), status (matched / only
    fixed / only moving / unplaced); one row per label named in either list. Attributes
    ``SpineLandmarkRegistration.rms_mm``, ``.mode``, ``.warnings`` (one per line), ``.error``.
    ``registration`` may be None (e.g. too few points): then only statuses and ``error`` are written.
    """
    fixed = landmark_set_from_markups_node(fixed_markups)
    moving = landmark_set_from_markups_node(moving_markups)
    residuals = registration.report.residuals_mm if registration is not None else {}
    loo = registration.report.loo_mm if registration is not None else {}
    for node in (fixed_markups, moving_markups):
        _write_descriptions(node, residuals, loo)

    if table_node is None:
        scene = fixed_markups.GetScene()
        table_node = scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName("registration residuals"))
    statuses = _statuses(fixed, moving)
    columns = (vtk.vtkStringArray(), vtk.vtkDoubleArray(), vtk.vtkDoubleArray(), vtk.vtkStringArray())
    for column, name in zip(columns, RESIDUAL_COLUMNS, strict=True):
        column.SetName(name)
    for label, status in statuses.items():
        columns[0].InsertNextValue(label)
        columns[1].InsertNextValue(residuals.get(label, math.nan))
        columns[2].InsertNextValue(loo.get(label, math.nan))
        columns[3].InsertNextValue(status)
    table = vtk.vtkTable()
    for column in columns:
        table.AddColumn(column)
    was_modifying = table_node.StartModify()
    table_node.SetAndObserveTable(table)
    for name, unit in (("residual_mm", "mm"), ("loo_mm", "mm")):
        table_node.SetColumnUnitLabel(name, unit)
    report = registration.report if registration is not None else None
    table_node.SetAttribute(ATTR + "rms_mm", f"{report.rms_mm:.6g}" if report else "")
    table_node.SetAttribute(ATTR + "mode", report.mode if report else "")
    table_node.SetAttribute(ATTR + "warnings", "\n".join(report.warnings) if report else "")
    table_node.SetAttribute(ATTR + "error", error or "")
    table_node.EndModify(was_modifying)
    return table_node


def read_residual_table(table_node: Any) -> list[dict[str, Any]]:
    """Rows of a table written by :func:`write_residuals` as dicts (floats NaN where empty)."""
    table = table_node.GetTable()
    cols = {table.GetColumnName(c): table.GetColumn(c) for c in range(table.GetNumberOfColumns())}
    rows = []
    for r in range(table.GetNumberOfRows()):
        rows.append({
            "label": cols["label"].GetValue(r),
            "residual_mm": float(cols["residual_mm"].GetValue(r)),
            "loo_mm": float(cols["loo_mm"].GetValue(r)),
            "status": cols["status"].GetValue(r),
        })
    return rows


def level_status(table_node: Any) -> list[tuple[str, dict[str, tuple[str, str, str]]]]:
    """Per level, per kind (body, spinous): (fixed, moving, residual) texts for a status grid.

    Fixed/moving read "placed" or "missing"; residual "1.23 mm" for matched pairs, else "".
    Labels that are not level landmarks are left out. Levels keep the table's order.
    """
    out: dict[str, dict[str, tuple[str, str, str]]] = {}
    for row in read_residual_table(table_node):
        try:
            level, kind = parse_landmark_name(row["label"])
        except ValueError:
            continue
        if kind not in LANDMARK_KINDS:
            continue
        status = row["status"]
        fixed = "placed" if status in ("matched", "only fixed") else "missing"
        moving = "placed" if status in ("matched", "only moving") else "missing"
        res = row["residual_mm"]
        residual = f"{res:.2f} mm" if math.isfinite(res) else ""
        out.setdefault(level, {k: ("missing", "missing", "") for k in LANDMARK_KINDS})[kind] = (fixed, moving, residual)
    return list(out.items())


# --- points ------------------------------------------------------------------------------------


def _indices(markups_node: Any, labels: Iterable[str]) -> list[int]:
    by_label = {markups_node.GetNthControlPointLabel(i): i for i in range(markups_node.GetNumberOfControlPoints())}
    labels = list(labels)
    missing = [lbl for lbl in labels if lbl not in by_label]
    if missing:
        raise ValueError(f"{markups_node.GetName()} has no points named {', '.join(missing)}")
    return [by_label[lbl] for lbl in labels]


def lock_points(markups_node: Any, labels: Iterable[str], locked: bool = True) -> list[int]:
    """Lock (or unlock) the named points, e.g. once reviewed; returns their indices.

    Raises ValueError naming labels the list does not have (then nothing is changed).
    """
    indices = _indices(markups_node, labels)
    for i in indices:
        markups_node.SetNthControlPointLocked(i, locked)
    return indices


def create_landmark_node(scene: Any, level_range: str, name: str) -> Any:
    """A new point list with unplaced points "<level>-body", "<level>-spinous" for each level of
    ``level_range`` (e.g. "L1-L5"); each "place next" click then fills the next named point. ValueError
    for a range that cannot be read."""
    names = landmark_names(parse_level_range(level_range))
    node = add_markups_node(scene, LandmarkSet([Landmark(label, None) for label in names], name=name), name)
    log.info("created %s with %d unplaced points", node.GetName(), len(names))
    return node


def first_unplaced_index(markups_node: Any) -> int | None:
    """Index of the first point whose position is not defined yet, or None."""
    for i in range(markups_node.GetNumberOfControlPoints()):
        if markups_node.GetNthControlPointPositionStatus(i) != slicer.vtkMRMLMarkupsNode.PositionDefined:
            return i
    return None


def start_placing_next(markups_logic: Any, markups_node: Any) -> int | None:
    """Make the next unplaced named point the one a click places; returns its index (None: all placed).

    Sets the list's placement start index, makes it the active list and turns on place mode
    (persistent, so further clicks fill the following unplaced points).
    """
    index = first_unplaced_index(markups_node)
    if index is None:
        return None
    markups_node.SetControlPointPlacementStartIndex(index)
    markups_logic.SetActiveList(markups_node)
    markups_logic.StartPlaceMode(True)
    return index


# --- live update -------------------------------------------------------------------------------


class LiveRegistration:
    """Recompute the registration, transform node and residual table whenever a point changes.

    Observes both point lists (point added, removed, modified, position defined/undefined). Each
    update fits without leave-one-out (fast enough for dragging) and, for piecewise, samples the
    field every ``preview_spacing`` mm (coarser if that would exceed ``preview_max_points``
    samples); :meth:`compute_full_report` gives the full result on demand.
    When the points cannot determine a transform (too few, collinear, bad names), the previous
    transform stays and :attr:`error` says why; no exception leaves an observer. Callables in
    :attr:`updated` are called with this object after every recomputation (for a GUI refresh).
    """

    def __init__(self, fixed_markups: Any, moving_markups: Any, mode: str = "rigid", transform_node: Any = None,
                 table_node: Any = None, domain_grid: Grid | None = None,
                 preview_spacing: float = PREVIEW_SPACING_MM, preview_max_points: int = PREVIEW_MAX_POINTS) -> None:
        self.scene = fixed_markups.GetScene()
        self.fixed_markups = fixed_markups
        self.moving_markups = moving_markups
        self.mode = mode
        self.transform_node = transform_node
        self.table_node = table_node
        self.domain_grid = domain_grid
        self.preview_spacing = preview_spacing
        self.preview_max_points = preview_max_points
        self.registration: Registration | None = None
        self.error: str | None = None
        self.updates = 0
        self.last_update_s = 0.0
        self.updated: list[Callable[[LiveRegistration], None]] = []
        self.preview_volume: Any = None
        self._preview_parent_id: str | None = None
        self._own_nodes: set[str] = set()
        self._key: tuple | None = None
        self._busy = False
        self._observations: list[tuple[Any, int]] = []
        for node in (fixed_markups, moving_markups):
            for event in MARKUPS_EVENTS:
                tag = node.AddObserver(getattr(slicer.vtkMRMLMarkupsNode, event), self._on_markups_event)
                self._observations.append((node, tag))
        self.update()

    # observers
    def _on_markups_event(self, caller: Any, event: str) -> None:
        self.update()

    def stop(self) -> None:
        """Remove the observers (the transform, table and preview stay as they are)."""
        for node, tag in self._observations:
            node.RemoveObserver(tag)
        self._observations = []

    @property
    def running(self) -> bool:
        return bool(self._observations)

    def set_mode(self, mode: str) -> None:
        """Change the transform type and recompute."""
        self.mode = mode
        self.update(force=True)

    # computation
    def _landmarks(self) -> tuple[LandmarkSet, LandmarkSet]:
        return (landmark_set_from_markups_node(self.fixed_markups),
                landmark_set_from_markups_node(self.moving_markups))

    @staticmethod
    def _signature(ls: LandmarkSet) -> tuple:
        return tuple((lm.label, None if lm.position is None else tuple(lm.position)) for lm in ls.landmarks)

    def _adopt(self, node: Any) -> None:
        """Use ``node`` from now on; move the preview volume to it and drop a replaced node we made."""
        if node is self.transform_node:
            return
        old = self.transform_node
        self.transform_node = node
        self._own_nodes.add(node.GetID())
        if self.preview_volume is not None:
            self.preview_volume.SetAndObserveTransformNodeID(node.GetID())
        if old is not None and old.GetID() in self._own_nodes and old.GetScene() is not None:
            self._own_nodes.discard(old.GetID())
            old.GetScene().RemoveNode(old)

    def _apply(self, registration: Registration, spacing: float, max_points: int | None) -> None:
        node = update_transform_node(self.scene, registration, self.transform_node, self.domain_grid, spacing,
                                     max_points)
        self._adopt(node)
        self.registration = registration
        self.error = None
        self.table_node = write_residuals(registration, self.fixed_markups, self.moving_markups, self.table_node)

    def update(self, force: bool = False) -> bool:
        """Recompute if the points (labels, positions) or the mode changed; True if it did."""
        if self._busy:  # our own description edits fire PointModifiedEvent
            return False
        self._busy = True
        t0 = time.perf_counter()
        try:
            fixed, moving = self._landmarks()
            key = (self.mode, self._signature(fixed), self._signature(moving))
            if key == self._key and not force:
                return False
            self._key = key
            try:
                registration = register(fixed, moving, self.mode, with_loo=False)
            except ValueError as exc:  # LandmarkError: too few, collinear, bad names
                self.error = str(exc)
                self.table_node = write_residuals(None, self.fixed_markups, self.moving_markups, self.table_node,
                                                  error=self.error)
            else:
                self._apply(registration, self.preview_spacing, self.preview_max_points)
        except Exception as exc:  # an observer must not raise into VTK
            log.exception("live registration update failed")
            self.error = f"registration update failed: {exc}"
        finally:
            self._busy = False
        self.updates += 1
        self.last_update_s = time.perf_counter() - t0
        for callback in list(self.updated):
            try:
                callback(self)
            except Exception:
                log.exception("live registration callback failed")
        return True

    def compute_full_report(self, spacing: float = FIELD_SPACING_MM) -> Registration:
        """Fit with leave-one-out errors, sample a piecewise field at ``spacing``, write everything.

        Raises LandmarkError (a ValueError) when the points cannot determine the transform.
        """
        self._busy = True
        try:
            fixed, moving = self._landmarks()
            registration = register(fixed, moving, self.mode, with_loo=True)
            self._apply(registration, spacing, None)
        finally:
            self._busy = False
        for callback in list(self.updated):
            try:
                callback(self)
            except Exception:
                log.exception("live registration callback failed")
        return registration

    # preview
    def set_preview_volume(self, volume: Any) -> None:
        """Place ``volume`` under the transform (its previous parent is restored by :meth:`remove_preview`)."""
        if volume is self.preview_volume:
            return
        self.remove_preview()
        self.preview_volume = volume
        self._preview_parent_id = volume.GetTransformNodeID()
        if self.transform_node is not None:
            volume.SetAndObserveTransformNodeID(self.transform_node.GetID())

    def remove_preview(self) -> None:
        """Give the preview volume its previous parent transform back."""
        if self.preview_volume is not None:
            self.preview_volume.SetAndObserveTransformNodeID(self._preview_parent_id)
        self.preview_volume = None
        self._preview_parent_id = None


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
