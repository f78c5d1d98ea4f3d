"""The registration kept up to date while an annotator places and drags points: the transform node and
the residual table recomputed on every control-point change."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import slicer

from SpineCoreLib.geometry import Grid
from SpineCoreLib.markups_io import LandmarkSet
from SpineCoreLib.mrml.markups import landmark_set_from_markups_node

from ..register import Registration, register
from .residual_table import write_residuals
from .transform_nodes import FIELD_SPACING_MM, update_transform_node

log = logging.getLogger(__name__)


PREVIEW_SPACING_MM = 6.0  # coarser grid while the annotator drags points (8x fewer samples) ...
PREVIEW_MAX_POINTS = 30_000  # ... and coarser still over a large field of view (about 0.2 s per update)
MARKUPS_EVENTS = (
    "PointAddedEvent",
    "PointRemovedEvent",
    "PointModifiedEvent",
    "PointPositionDefinedEvent",
    "PointPositionUndefinedEvent",
)


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
