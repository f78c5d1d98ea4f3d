"""Point-list nodes (vtkMRMLMarkupsFiducialNode) <-> :class:`LandmarkSet`.

Positions are RAS world coordinates, so a point list under a parent transform reads as it is
displayed. An unplaced landmark is a control point whose position is undefined: Slicer's
"place" then walks through such points in order, so annotators fill named points one by one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import slicer
import vtk

from ..markups_io import Landmark, LandmarkSet


def landmark_set_from_markups_node(node: Any) -> LandmarkSet:
    """Landmarks of a point list; points not placed (undefined, preview or missing) have position None.

    A preview point is the one following the mouse during placement, so it is not placed yet.
    """
    out = LandmarkSet(name=node.GetName() or "")
    pos = [0.0, 0.0, 0.0]
    for i in range(node.GetNumberOfControlPoints()):
        position = None
        if node.GetNthControlPointPositionStatus(i) == slicer.vtkMRMLMarkupsNode.PositionDefined:
            node.GetNthControlPointPositionWorld(i, pos)
            position = np.array(pos, dtype=float)
        out.landmarks.append(
            Landmark(
                label=node.GetNthControlPointLabel(i),
                position=position,
                description=node.GetNthControlPointDescription(i) or "",
                locked=bool(node.GetNthControlPointLocked(i)),
            )
        )
    return out


def update_markups_node(node: Any, landmarks: LandmarkSet) -> Any:
    """Replace all control points of ``node`` with ``landmarks`` (one Modified event at the end)."""
    was_modifying = node.StartModify()
    try:
        node.RemoveAllControlPoints()
        for lm in landmarks.landmarks:
            if lm.position is None:
                index = node.AddControlPoint(vtk.vtkVector3d(0.0, 0.0, 0.0), lm.label)
                # Unset = undefined, waiting to be placed. (Reset would make it the *preview* point,
                # which follows the mouse; only one point can be that.)
                node.UnsetNthControlPointPosition(index)
            else:
                xyz = np.asarray(lm.position, dtype=float)
                if xyz.shape != (3,) or not np.all(np.isfinite(xyz)):
                    raise ValueError(f"landmark {lm.label!r} has an invalid position {lm.position!r}")
                index = node.AddControlPointWorld(vtk.vtkVector3d(*(float(v) for v in xyz)), lm.label)
            node.SetNthControlPointDescription(index, lm.description)
            node.SetNthControlPointLocked(index, lm.locked)
    finally:
        node.EndModify(was_modifying)
    return node


def add_markups_node(scene: Any, landmarks: LandmarkSet, name: str) -> Any:
    """Add a new point list holding ``landmarks``, with display nodes so it shows in views."""
    node = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", name)
    node.CreateDefaultDisplayNodes()
    return update_markups_node(node, landmarks)
