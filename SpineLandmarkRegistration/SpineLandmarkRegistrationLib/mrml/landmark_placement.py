"""Named landmark lists for an annotator: created with every level's points unplaced, placed one after
another with Slicer's place mode, locked once checked."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import slicer

from SpineCoreLib.levels import landmark_names, parse_level_range
from SpineCoreLib.markups_io import Landmark, LandmarkSet
from SpineCoreLib.mrml.markups import add_markups_node

log = logging.getLogger(__name__)

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
