"""Markups JSON written by the project is read by real MRML, and the other way round, at the same RAS points."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from SpineCoreLib.markups_io import (
    Landmark,
    LandmarkSet,
    read_markups_json,
    write_markups_json,
)


def _landmarks() -> LandmarkSet:
    return LandmarkSet(
        [
            Landmark("L1-body", np.array([12.5, -40.25, 101.0]), "centre of the body", locked=True),
            Landmark("L1-spinous", None, "not placed yet"),
            Landmark("L2-body", np.array([-3.0, 7.75, 70.5])),
        ],
        name="MR-landmarks",
    )


def _node_points(node: Any) -> list[tuple[str, np.ndarray | None, bool, str]]:
    """(label, world RAS or None, locked, description) per control point, read with MRML calls only."""
    import slicer

    out = []
    for i in range(node.GetNumberOfControlPoints()):
        defined = node.GetNthControlPointPositionStatus(i) == slicer.vtkMRMLMarkupsNode.PositionDefined
        pos = np.array(node.GetNthControlPointPositionWorld(i)) if defined else None
        out.append((node.GetNthControlPointLabel(i), pos, bool(node.GetNthControlPointLocked(i)),
                    node.GetNthControlPointDescription(i)))
    return out


def _assert_matches(points: list, landmarks: LandmarkSet) -> None:
    assert [p[0] for p in points] == landmarks.labels()
    for (label, pos, locked, description), lm in zip(points, landmarks.landmarks, strict=True):
        assert locked == lm.locked, label
        assert description == lm.description, label
        if lm.position is None:
            assert pos is None, f"{label} should be unplaced"
        else:
            np.testing.assert_allclose(pos, lm.position, atol=1e-6, err_msg=label)


@pytest.mark.parametrize("system", ["LPS", "RAS"])
def test_our_json_loads_in_mrml_at_the_same_ras_points(mrml_scene: Any, tmp_path: Path, system: str) -> None:
    import slicer

    path = write_markups_json(tmp_path / f"points-{system}.mrk.json", _landmarks(), coordinate_system=system)
    node_id = slicer.modules.markups.logic().LoadMarkups(str(path))
    assert node_id, "MRML could not load the file"
    node = mrml_scene.GetNodeByID(node_id)
    assert node.IsA("vtkMRMLMarkupsFiducialNode")
    _assert_matches(_node_points(node), _landmarks())
    assert node.GetNumberOfUndefinedControlPoints() == 1


def test_mrml_saved_json_reads_at_the_same_ras_points(mrml_scene: Any, tmp_path: Path) -> None:
    import slicer

    node = mrml_scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "CT-landmarks")
    expected = _landmarks()
    for lm in expected.landmarks:
        index = node.AddControlPoint(*(lm.position if lm.position is not None else (0.0, 0.0, 0.0)), lm.label)
        if lm.position is None:
            node.UnsetNthControlPointPosition(index)
        node.SetNthControlPointLocked(index, lm.locked)
        node.SetNthControlPointDescription(index, lm.description)
    storage = slicer.vtkMRMLMarkupsJsonStorageNode()
    mrml_scene.AddNode(storage)
    path = tmp_path / "saved.mrk.json"
    storage.SetFileName(str(path))
    assert storage.WriteData(node) == 1
    assert '"coordinateSystem": "LPS"' in path.read_text(), "MRML writes LPS by default"

    back = read_markups_json(path)  # (MRML writes no node name into the file; Slicer names nodes by file)
    _assert_matches([(lm.label, lm.position, lm.locked, lm.description) for lm in back.landmarks], expected)


def test_mrml_layer_round_trip(mrml_scene: Any) -> None:
    from SpineCoreLib.mrml.markups import (
        add_markups_node,
        landmark_set_from_markups_node,
        update_markups_node,
    )

    node = add_markups_node(mrml_scene, _landmarks(), "points")
    assert node.GetDisplayNode() is not None
    assert node.GetNumberOfUndefinedControlPoints() == 1  # unplaced, not a "preview" point
    back = landmark_set_from_markups_node(node)
    assert back.name == "points"
    _assert_matches([(lm.label, lm.position, lm.locked, lm.description) for lm in back.landmarks], _landmarks())

    smaller = LandmarkSet([Landmark("S1-body", np.array([1.0, 2.0, 3.0]))])
    update_markups_node(node, smaller)
    assert landmark_set_from_markups_node(node).labels() == ["S1-body"]


def test_mrml_layer_uses_world_positions_under_a_transform(mrml_scene: Any) -> None:
    import slicer
    import vtk

    from SpineCoreLib.mrml.markups import landmark_set_from_markups_node, update_markups_node

    transform = mrml_scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    matrix = vtk.vtkMatrix4x4()
    matrix.SetElement(0, 3, 10.0)
    matrix.SetElement(2, 3, -5.0)
    transform.SetMatrixTransformToParent(matrix)
    node = mrml_scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "moved")
    node.SetAndObserveTransformNodeID(transform.GetID())

    update_markups_node(node, _landmarks())
    np.testing.assert_allclose(node.GetNthControlPointPosition(0), [2.5, -40.25, 106.0])  # local = world - shift
    _assert_matches(
        [(lm.label, lm.position, lm.locked, lm.description) for lm in landmark_set_from_markups_node(node).landmarks],
        _landmarks(),
    )
    assert slicer.vtkMRMLMarkupsNode.PositionDefined == node.GetNthControlPointPositionStatus(0)


def test_update_rejects_a_nan_position(mrml_scene: Any) -> None:
    from SpineCoreLib.mrml.markups import add_markups_node

    with pytest.raises(ValueError, match="L3-body"):
        add_markups_node(mrml_scene, LandmarkSet([Landmark("L3-body", np.array([1.0, np.nan, 0.0]))]), "bad")
