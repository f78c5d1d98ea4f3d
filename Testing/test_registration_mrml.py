"""Registration results in real MRML: transform nodes as Slicer applies them, residuals, live update,
hardened copies, and the module Logic's console API (phantom cases loaded into a headless scene)."""

from __future__ import annotations

import csv
import importlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import vtk

from SpineCoreLib.mrml.case_nodes import load_case_nodes
from SpineCoreLib.mrml.markups import landmark_set_from_markups_node
from SpineCoreLib.mrml.volumes import grid_from_volume_node
from SpineCoreLib.phantom import PhantomOptions, generate_case
from SpineLandmarkRegistrationLib.mrml import (
    landmark_placement,
    live_registration,
    residual_table,
    transform_nodes,
)
from SpineLandmarkRegistrationLib.register import register

LEVELS = ["L2", "L3", "L4"]


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> dict[str, Path]:
    """Two small phantom cases: CT and MR differ by a rigid motion only, or also by spine curvature."""
    out = tmp_path_factory.mktemp("regmrml")
    folders = {}
    for name, seed, curved in (("rigid", 5, False), ("curved", 6, True)):
        opts = PhantomOptions(levels=LEVELS, ct_spacing=3.0, mr_spacing=(2.0, 2.0, 4.0), curvature_change=curved)
        generate_case(out, name, seed, opts)
        folders[name] = out / name
    return folders


def _points(node: Any, world: bool = True) -> dict[str, np.ndarray]:
    get = node.GetNthControlPointPositionWorld if world else node.GetNthControlPointPosition
    return {node.GetNthControlPointLabel(i): np.array(get(i)) for i in range(node.GetNumberOfControlPoints())
            if node.GetNthControlPointPositionStatus(i) == node.PositionDefined}


def _register(nodes: dict, mode: str, with_loo: bool = True):
    return register(landmark_set_from_markups_node(nodes["mr_landmarks"]),
                    landmark_set_from_markups_node(nodes["ct_landmarks"]), mode, with_loo=with_loo)


def _matrix(node: Any) -> np.ndarray:
    m = vtk.vtkMatrix4x4()
    node.GetMatrixTransformToParent(m)
    return np.array([[m.GetElement(r, c) for c in range(4)] for r in range(4)])


def test_linear_node_displays_moving_landmarks_on_fixed_ones(mrml_scene, cases):
    nodes = load_case_nodes(mrml_scene, cases["rigid"])
    reg = _register(nodes, "rigid")
    node = transform_nodes.update_transform_node(mrml_scene, reg)
    assert node.IsA("vtkMRMLLinearTransformNode") and node.GetAttribute(transform_nodes.ATTR + "mode") == "rigid"
    np.testing.assert_allclose(_matrix(node), reg.transform.matrix, atol=1e-12)

    ct, mr = nodes["ct_landmarks"], nodes["mr_landmarks"]
    before = _points(ct)
    ct.SetAndObserveTransformNodeID(node.GetID())  # what Slicer displays: the points through the node
    shown, fixed = _points(ct), _points(mr)
    assert set(shown) == set(fixed) == {f"{lv}-{k}" for lv in LEVELS for k in ("body", "spinous")}
    for label in fixed:
        np.testing.assert_allclose(shown[label], fixed[label], atol=1e-3)
    moved = transform_nodes.transform_points_to_world(node, np.array([before[k] for k in fixed]))
    np.testing.assert_allclose(moved, np.array(list(fixed.values())), atol=1e-3)

    # the node is reused when its class fits, and replaced by a new one when it does not
    assert transform_nodes.update_transform_node(mrml_scene, _register(nodes, "affine"), node) is node
    grid_node = mrml_scene.AddNewNodeByClass("vtkMRMLGridTransformNode", "grid")
    other = transform_nodes.update_transform_node(mrml_scene, reg, grid_node)
    assert other is not grid_node and other.IsA("vtkMRMLLinearTransformNode")


def test_piecewise_grid_node_agrees_with_the_core_transform(mrml_scene, cases):
    nodes = load_case_nodes(mrml_scene, cases["curved"])
    reg = _register(nodes, "piecewise", with_loo=False)
    domain = grid_from_volume_node(nodes["mr_t2w"])
    node = transform_nodes.update_transform_node(mrml_scene, reg, domain_grid=domain)
    assert node.IsA("vtkMRMLGridTransformNode")
    moving, fixed = reg.matched.moving, reg.matched.fixed
    # moving points shown under the node (Slicer inverts the stored fixed->moving field) ...
    shown = transform_nodes.transform_points_to_world(node, moving)
    np.testing.assert_allclose(shown, reg.transform.moving_to_fixed(moving), atol=0.5)
    # ... and the resampling direction, which is what the field stores
    np.testing.assert_allclose(transform_nodes.transform_points_from_world(node, fixed), reg.transform.fixed_to_moving(fixed),
                               atol=0.5)
    rigid_rms = _register(nodes, "rigid", with_loo=False).report.rms_mm
    piecewise_rms = float(np.sqrt(((shown - fixed) ** 2).sum(1).mean()))
    assert piecewise_rms < rigid_rms
    # the same node is refilled; a linear node passed for a piecewise fit is not
    assert transform_nodes.update_transform_node(mrml_scene, reg, node, domain, spacing=6.0) is node
    linear = mrml_scene.AddNewNodeByClass("vtkMRMLLinearTransformNode")
    assert transform_nodes.update_transform_node(mrml_scene, reg, linear, domain, spacing=6.0).IsA("vtkMRMLGridTransformNode")


def test_residuals_go_into_descriptions_and_the_table(mrml_scene, cases):
    nodes = load_case_nodes(mrml_scene, cases["curved"])
    mr, ct = nodes["mr_landmarks"], nodes["ct_landmarks"]
    ct.UnsetNthControlPointPosition(5)  # L4-spinous only in the fixed list
    mr.SetNthControlPointDescription(0, "checked by AB")  # a user's note is replaced by the residual
    mr.SetNthControlPointDescription(5, "keep me")  # not matched: left alone
    reg = _register(nodes, "rigid")
    table = residual_table.write_residuals(reg, mr, ct)
    rows = {r["label"]: r for r in residual_table.read_residual_table(table)}
    assert [table.GetColumnName(c) for c in range(table.GetNumberOfColumns())] == list(residual_table.RESIDUAL_COLUMNS)
    assert rows["L4-spinous"]["status"] == "only fixed" and np.isnan(rows["L4-spinous"]["residual_mm"])
    for label, value in reg.report.residuals_mm.items():
        assert rows[label]["status"] == "matched"
        assert rows[label]["residual_mm"] == pytest.approx(value)
        assert rows[label]["loo_mm"] == pytest.approx(reg.report.loo_mm[label])
    assert float(table.GetAttribute(transform_nodes.ATTR + "rms_mm")) == pytest.approx(reg.report.rms_mm, rel=1e-5)
    first = mr.GetNthControlPointLabel(0)
    text = f"residual {reg.report.residuals_mm[first]:.2f} mm, leave-one-out {reg.report.loo_mm[first]:.2f} mm"
    assert mr.GetNthControlPointDescription(0) == ct.GetNthControlPointDescription(0) == text
    assert mr.GetNthControlPointDescription(5) == "keep me"

    grid = dict(residual_table.level_status(table))
    assert list(grid) == LEVELS
    assert grid["L4"]["spinous"] == ("placed", "missing", "")
    assert grid["L2"]["body"][:2] == ("placed", "placed") and grid["L2"]["body"][2].endswith(" mm")

    # without a registration (too few points) only statuses and the error are written; stale texts go
    for i in range(ct.GetNumberOfControlPoints()):
        ct.UnsetNthControlPointPosition(i)
    residual_table.write_residuals(None, mr, ct, table, error="too few")
    assert {r["status"] for r in residual_table.read_residual_table(table)} == {"only fixed"}
    assert table.GetAttribute(transform_nodes.ATTR + "error") == "too few" and table.GetAttribute(transform_nodes.ATTR + "rms_mm") == ""
    assert mr.GetNthControlPointDescription(0) == "" and mr.GetNthControlPointDescription(5) == "keep me"


def test_live_registration_follows_point_edits(mrml_scene, cases):
    nodes = load_case_nodes(mrml_scene, cases["rigid"])
    mr, ct, volume = nodes["mr_landmarks"], nodes["ct_landmarks"], nodes["ct"]
    live = live_registration.LiveRegistration(mr, ct, "rigid")
    calls = []
    live.updated.append(lambda lr: calls.append(None if lr.error else lr.registration.report.rms_mm))
    node = live.transform_node
    assert live.error is None and live.registration.report.rms_mm < 1e-6 and live.registration.report.loo_mm == {}
    live.set_preview_volume(volume)
    assert volume.GetTransformNodeID() == node.GetID()

    p = np.array(ct.GetNthControlPointPosition(2))
    ct.SetNthControlPointPosition(2, *(p + [6.0, 0.0, 0.0]))  # a drag step
    assert len(calls) == 1 and calls[0] > 0.5
    moved_matrix = _matrix(node)
    np.testing.assert_allclose(moved_matrix, live.registration.transform.matrix, atol=1e-12)
    assert "residual" in ct.GetNthControlPointDescription(2)
    assert float(live.table_node.GetAttribute(transform_nodes.ATTR + "rms_mm")) == pytest.approx(calls[0], rel=1e-5)
    ct.SetNthControlPointDescription(0, "note")  # not a geometry change: no recomputation
    assert len(calls) == 1

    # fewer than three pairs: the last transform stays and the error is reported, nothing raises
    original = {i: ct.GetNthControlPointPosition(i) for i in (0, 1, 3, 4)}
    for i in (0, 1, 3):
        ct.UnsetNthControlPointPosition(i)
    assert live.error is None  # three pairs still determine a rigid transform
    last_good = _matrix(node)
    ct.UnsetNthControlPointPosition(4)
    assert live.error and "at least 3" in live.error and calls[-1] is None
    assert live.transform_node is node
    np.testing.assert_allclose(_matrix(node), last_good)
    assert live.table_node.GetAttribute(transform_nodes.ATTR + "error") == live.error
    for i, pos in original.items():  # placing them again recovers
        ct.SetNthControlPointPosition(i, *pos)
    assert live.error is None and live.registration.report.rms_mm == pytest.approx(calls[0])
    np.testing.assert_allclose(_matrix(node), moved_matrix, atol=1e-9)
    while ct.GetNumberOfControlPoints() > 2:  # deleting points
        ct.RemoveNthControlPoint(0)
        if ct.GetNumberOfControlPoints() == 3:
            last_good = _matrix(node)
    assert live.error and live.transform_node is node
    np.testing.assert_allclose(_matrix(node), last_good)

    # piecewise: a grid node replaces our linear one, the preview volume moves with it
    live.remove_preview()
    assert volume.GetTransformNodeID() is None
    live.stop()
    ct_points = load_case_nodes(mrml_scene, cases["rigid"])["ct_landmarks"]
    live2 = live_registration.LiveRegistration(mr, ct_points, "rigid")
    live2.set_preview_volume(volume)
    first = live2.transform_node
    live2.set_mode("piecewise")
    assert live2.transform_node.IsA("vtkMRMLGridTransformNode") and first.GetScene() is None
    assert volume.GetTransformNodeID() == live2.transform_node.GetID()
    full = live2.compute_full_report(spacing=6.0)
    assert set(full.report.loo_mm) == set(full.report.residuals_mm)
    live2.remove_preview()
    assert volume.GetTransformNodeID() is None
    live2.stop()
    n = live2.updates
    ct_points.SetNthControlPointPosition(0, 1.0, 2.0, 3.0)
    assert live2.updates == n and not live2.running


def _volume_state(volume: Any) -> tuple[np.ndarray, np.ndarray, str | None]:
    import slicer.util

    m = vtk.vtkMatrix4x4()
    volume.GetIJKToRASMatrix(m)
    ijk_to_ras = np.array([[m.GetElement(r, c) for c in range(4)] for r in range(4)])
    return slicer.util.arrayFromVolume(volume).copy(), ijk_to_ras, volume.GetTransformNodeID()


@pytest.mark.parametrize("mode", ["rigid", "piecewise"])
def test_harden_copy_leaves_the_input_volume_alone(mrml_scene, cases, mode):
    import slicer.util

    nodes = load_case_nodes(mrml_scene, cases["rigid"])
    volume = nodes["ct"]
    node = transform_nodes.update_transform_node(mrml_scene, _register(nodes, mode, with_loo=False), spacing=6.0)
    volume.SetAndObserveTransformNodeID(node.GetID())  # previewed under the transform, as in the module
    before = _volume_state(volume)
    copy = transform_nodes.harden_copy(mrml_scene, volume, node, "ct_registered")
    after = _volume_state(volume)
    np.testing.assert_array_equal(after[0], before[0])
    np.testing.assert_array_equal(after[1], before[1])
    assert after[2] == before[2] == node.GetID()
    assert copy is not volume and copy.GetName() == "ct_registered" and copy.GetTransformNodeID() is None
    voxels, ijk_to_ras, _ = _volume_state(copy)
    assert not np.allclose(ijk_to_ras, before[1])
    if mode == "rigid":  # a linear transform moves the grid, not the voxels
        np.testing.assert_array_equal(voxels, before[0])
    # the copy now sits where the moving volume was displayed: the CT's centre maps onto the copy's
    centre = np.array(volume.GetImageData().GetDimensions()) / 2.0
    shown = transform_nodes.transform_points_to_world(node, (before[1] @ np.append(centre, 1.0))[:3])
    inside = np.linalg.inv(ijk_to_ras) @ np.append(shown, 1.0)
    assert np.all(inside[:3] > 0) and np.all(inside[:3] < np.array(copy.GetImageData().GetDimensions()))
    assert slicer.util.arrayFromVolume(copy).dtype == before[0].dtype


def test_lock_points_and_place_next(mrml_scene, headless_slicer):
    from SpineCoreLib.markups_io import Landmark, LandmarkSet
    from SpineCoreLib.mrml.markups import add_markups_node

    node = add_markups_node(mrml_scene, LandmarkSet([Landmark("L1-body", np.zeros(3)), Landmark("L1-spinous", None),
                                                     Landmark("L2-body", None)]), "points")
    assert landmark_placement.lock_points(node, ["L1-body"]) == [0]
    assert [node.GetNthControlPointLocked(i) for i in range(3)] == [True, False, False]
    with pytest.raises(ValueError, match="L9-body"):
        landmark_placement.lock_points(node, ["L1-spinous", "L9-body"])
    assert not node.GetNthControlPointLocked(1)  # nothing changed on error

    logic = headless_slicer.logic("Markups")
    assert landmark_placement.start_placing_next(logic, node) == 1
    assert node.GetControlPointPlacementStartIndex() == 1
    assert logic.GetActiveListID() == node.GetID()
    interaction = mrml_scene.GetNodeByID("vtkMRMLInteractionNodeSingleton")
    assert interaction.GetCurrentInteractionMode() == interaction.Place
    node.SetNthControlPointPosition(1, 1.0, 2.0, 3.0)
    node.SetNthControlPointPosition(2, 1.0, 2.0, 9.0)
    assert landmark_placement.start_placing_next(logic, node) is None


def test_node_transform_matches_the_core_for_export(mrml_scene, cases):
    nodes = load_case_nodes(mrml_scene, cases["rigid"])
    reg = _register(nodes, "rigid", with_loo=False)
    linear = transform_nodes.core_transform_from_node(transform_nodes.update_transform_node(mrml_scene, reg))
    np.testing.assert_allclose(linear.matrix, reg.transform.matrix, atol=1e-12)
    grid_reg = _register(nodes, "piecewise", with_loo=False)
    domain = grid_from_volume_node(nodes["mr_t2w"])
    sampled = transform_nodes.core_transform_from_node(transform_nodes.update_transform_node(mrml_scene, grid_reg, domain_grid=domain))
    assert isinstance(sampled, transform_nodes.NodeTransform)
    fixed = grid_reg.matched.fixed
    itk = sampled.to_sitk(domain)
    lps = np.array([itk.TransformPoint(tuple(float(v) for v in p * [-1, -1, 1])) for p in fixed]) * [-1, -1, 1]
    np.testing.assert_allclose(lps, grid_reg.transform.fixed_to_moving(fixed), atol=0.5)


def test_logic_console_api(slicer_standin, mrml_scene, cases, tmp_path):
    mod = importlib.import_module("SpineLandmarkRegistration")
    logic = mod.SpineLandmarkRegistrationLogic()
    nodes = load_case_nodes(mrml_scene, cases["rigid"])
    mr, ct, volume = nodes["mr_landmarks"], nodes["ct_landmarks"], nodes["ct"]

    node, report = logic.register(mr, ct, "rigid", movingVolume=volume)
    assert report.rms_mm < 1e-3 and set(report.loo_mm) == set(report.residuals_mm)
    assert volume.GetTransformNodeID() == node.GetID()
    assert {r["status"] for r in residual_table.read_residual_table(logic.residualTableNode)} == {"matched"}
    with pytest.raises(ValueError, match="at least 3"):
        logic.register(mr, mrml_scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode"), "rigid")

    live = logic.startLiveRegistration(mr, ct, "rigid", movingVolume=volume, transformNode=node)
    assert live.transform_node is node and logic.liveRegistration is live
    ct.SetNthControlPointPosition(0, *(np.array(ct.GetNthControlPointPosition(0)) + 4.0))
    assert logic.lastRegistration.report.rms_mm > 0.5
    logic.stopLiveRegistration(removePreview=True)
    assert logic.liveRegistration is None and not live.running
    assert volume.GetTransformNodeID() == node.GetID()  # its parent before the live preview started
    logic.setPreview(volume, node, on=False)
    assert volume.GetTransformNodeID() is None

    copy = logic.hardenCopy(volume, node)
    assert copy.GetName().startswith(volume.GetName()) and copy.GetTransformNodeID() is None

    out = tmp_path / "pairs"
    files = logic.exportPair(nodes["mr_t2w"], volume, node, str(out), "sub-x", fixedLabels=nodes["mr_seg"],
                             movingLabels=nodes["ct_seg"])
    assert {"mr_t2w", "mr_seg", "ct_mrworld", "ct_mrworld_seg", "transform"} <= set(files)
    assert all(Path(p).is_file() for p in files.values())
    files2 = logic.exportPair(nodes["mr_t2w"], volume, logic.lastRegistration, str(out), "sub-y", spacing=4.0)
    assert Path(files2["registration"]).is_file()
    with open(out / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["subject"] for r in rows] == ["sub-x", "sub-y"]
    assert rows[0]["ct_mrworld"] and rows[0]["mr_seg"]


def test_checkerboard_core_alternates_squares_exactly():
    from SpineLandmarkRegistrationLib.checkerboard import checkerboard, normalised, square_size

    a, b = np.zeros((2, 4, 4)), np.ones((2, 4, 4))
    board = checkerboard(a, b, (1, 2, 2))
    expected_k0 = np.array([[0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 0, 0]])
    np.testing.assert_array_equal(board[0], expected_k0)
    np.testing.assert_array_equal(board[1], 1 - expected_k0)  # the next slice starts with the other image
    assert square_size((10, 64, 64), 8) == (8, 8, 8) and square_size((3, 100, 7), 4) == (3, 25, 7)
    np.testing.assert_allclose(normalised(np.arange(101.0), low=10, high=90)[[0, 10, 50, 90, 100]],
                               [0, 0, 0.5, 1, 1])
    with pytest.raises(ValueError, match="differ in shape"):
        checkerboard(a, np.ones((2, 4, 3)), (1, 2, 2))


def test_checkerboard_preview_follows_the_transform_and_leaves_inputs_alone(slicer_standin, mrml_scene, cases):
    import slicer.util

    from SpineLandmarkRegistrationLib.checkerboard import normalised, square_size

    logic = importlib.import_module("SpineLandmarkRegistration").SpineLandmarkRegistrationLogic()
    nodes = load_case_nodes(mrml_scene, cases["rigid"])
    fixed, moving = nodes["mr_t2w"], nodes["ct"]
    transform, _ = logic.register(nodes["mr_landmarks"], nodes["ct_landmarks"], "rigid")
    before = slicer.util.arrayFromVolume(moving).copy(), moving.GetTransformNodeID()
    board_node = logic.startCheckerboard(fixed, moving, transform, squares=4)
    assert board_node.GetImageData().GetDimensions() == fixed.GetImageData().GetDimensions()
    np.testing.assert_allclose(_ijk(board_node), _ijk(fixed), atol=1e-12)
    board = slicer.util.arrayFromVolume(board_node).copy()
    fixed_values = normalised(slicer.util.arrayFromVolume(fixed)) * 1000
    size = square_size(board.shape, 4)
    even = (sum(np.indices(board.shape)[a] // size[a] for a in range(3)) % 2) == 0
    np.testing.assert_allclose(board[even], fixed_values[even], atol=1e-3)  # fixed in the even squares
    assert np.abs(board[~even] - fixed_values[~even]).mean() > 10  # the CT in the others

    m = vtk.vtkMatrix4x4()
    transform.GetMatrixTransformToParent(m)
    m.SetElement(0, 3, m.GetElement(0, 3) + 12.0)  # the annotator moves the transform: the board follows
    transform.SetMatrixTransformToParent(m)
    moved = slicer.util.arrayFromVolume(board_node)
    np.testing.assert_allclose(moved[even], board[even], atol=1e-3)
    assert np.abs(moved[~even] - board[~even]).max() > 100

    logic.stopCheckerboard()
    assert not mrml_scene.IsNodePresent(board_node) and logic.checkerboard is None
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(moving), before[0])
    assert moving.GetTransformNodeID() == before[1]


def _ijk(node: Any) -> np.ndarray:
    m = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(m)
    return np.array([[m.GetElement(r, c) for c in range(4)] for r in range(4)])
