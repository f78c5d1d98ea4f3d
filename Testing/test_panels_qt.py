"""Both panels built from their .ui files with real Qt (PyQt5 5.15, offscreen; Testing/harness/qt_harness) and
driven as a user would: bindings with Slicer's connector rules, the hand-synced model and target
combos, Apply running a real child process with progress, Cancel, result nodes; placing, locking and
auto-updated registration with the transform selector showing the result."""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from SpineCoreLib.mrml.case_nodes import load_case_nodes
from SpineCoreLib.phantom import PhantomOptions, generate_case

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves

MODULES = ("SpineLandmarkRegistration", "MRtoCTTranslation")


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory) -> Path:
    opts = PhantomOptions(levels=["L2", "L3", "L4"], ct_spacing=2.0, mr_spacing=(1.5, 1.5, 3.0))
    return generate_case(tmp_path_factory.mktemp("panelcase"), "panel", 5, opts)["truth"].parent


@pytest.fixture
def panels(slicer_standin, mrml_scene):
    """The module files reloaded over the Qt harness (and reloaded back over the inert stand-in after)."""
    from qt_harness.install import install, uninstall

    app = install()
    mods = {name: importlib.reload(importlib.import_module(name)) for name in MODULES}
    try:
        yield app, mods
    finally:
        uninstall()
        for name in MODULES:
            importlib.reload(sys.modules[name])


def _pump(app: Any, until: Callable[[], bool], timeout: float = 120.0, seen: list | None = None,
          watch: Callable[[], Any] | None = None) -> None:
    """Run the event loop (timers included) until ``until()``; record ``watch()`` values on the way."""
    t0 = time.perf_counter()
    while not until():
        app.processEvents()
        if watch is not None and seen is not None and (not seen or seen[-1] != watch()):
            seen.append(watch())
        if time.perf_counter() - t0 > timeout:
            raise AssertionError(f"timed out; last seen {seen[-3:] if seen else None}")
        time.sleep(0.02)


def _scene_state(scene: Any) -> list[tuple[str, str]]:
    return sorted((scene.GetNthNode(i).GetID(), scene.GetNthNode(i).GetName()) for i in range(scene.GetNumberOfNodes()))


def _items(combo: Any) -> list[str]:
    return [combo.itemText(i) for i in range(combo.count)]


# ---------------------------------------------------------------------------------------------- translation


def test_translation_panel_binds_its_settings_and_syncs_models_and_targets(panels):
    from MRtoCTTranslationLib.options import MAX_STEPS
    from MRtoCTTranslationLib.precision import PRECISIONS

    _, mods = panels
    module = mods["MRtoCTTranslation"]
    widget = module.MRtoCTTranslationWidget()
    widget.setup()
    ui, p = widget.ui, widget._parameterNode
    assert type(widget.logic) is module.MRtoCTTranslationLogic
    # bound widgets, as Slicer's connectors bind them
    assert _items(ui.precisionComboBox) == list(PRECISIONS) and _items(ui.deviceComboBox) == ["auto", "cpu", "cuda"]
    ui.precisionComboBox.setCurrentIndex(PRECISIONS.index("fp32"))
    assert p.precision == "fp32"
    p.steps = 5
    assert ui.stepsSpinBox.value == 5 and ui.stepsSpinBox.maximum == MAX_STEPS
    ui.segmentCheckBox.checked = False
    assert p.segment is False
    # hand-synced: the models found on this computer, the chosen model's targets
    assert {"ddim3d-default", "latent3d-multitarget", "pix2pix3d-baseline"} <= set(_items(ui.modelComboBox))
    assert ui.modelComboBox.currentText == "ddim3d-default" and not ui.targetComboBox.enabled
    assert "Held-out" in ui.modelInfoLabel.text
    ui.modelComboBox.setCurrentIndex(_items(ui.modelComboBox).index("latent3d-multitarget"))
    assert p.model == "latent3d-multitarget" and ui.targetComboBox.enabled
    assert _items(ui.targetComboBox) == ["CT", "T1w", "T2w", "PDw", "STIR"] and p.target == "CT"
    ui.targetComboBox.setCurrentIndex(1)
    assert p.target == "T1w"
    p.model = "ddim3d-default"  # from the console or a loaded scene: the panel follows
    assert ui.modelComboBox.currentText == "ddim3d-default" and _items(ui.targetComboBox) == ["CT"]
    assert p.target == "CT" and not ui.targetComboBox.enabled
    ui.modelComboBox.setEditText("/models/mine")  # a typed model folder
    assert p.model == "/models/mine" and "Not in the catalogue" in ui.modelInfoLabel.text
    ui.segmentationMethodComboBox.setCurrentIndex(1)
    assert p.segmentation_method == "totalsegmentator"
    widget.cleanup()


def test_apply_runs_in_a_child_process_and_adds_the_results(panels, mrml_scene, case_dir):
    app, mods = panels
    module = mods["MRtoCTTranslation"]
    started: list[Any] = []

    class RecordingLogic(module.MRtoCTTranslationLogic):  # injected: the widget drives the Logic it is given
        def processParameterNode(self, p, waitForCompletion=True, progress=None):
            started.append(p.model)
            return super().processParameterNode(p, waitForCompletion, progress)

    widget = module.MRtoCTTranslationWidget(logic=RecordingLogic())
    widget.setup()
    ui, p = widget.ui, widget._parameterNode
    assert p.inputVolume is None and not ui.applyButton.enabled
    nodes = load_case_nodes(mrml_scene, case_dir)
    ui.inputVolumeSelector.setCurrentNode(nodes["mr_t1w"])
    assert p.inputVolume is nodes["mr_t1w"] and ui.applyButton.enabled
    assert nodes["mr_seg"] not in ui.inputVolumeSelector.nodes()  # a label map is no MR
    ui.stepsSpinBox.value = 2
    ui.segmentCheckBox.checked = False
    ui.applyButton.click()
    assert ui.applyButton.text == "Cancel" and widget._job is not None and widget._job.pid != os.getpid()
    assert started == ["ddim3d-default"]
    statuses: list[str] = []
    _pump(app, lambda: ui.applyButton.text == "Apply", seen=statuses, watch=lambda: ui.statusLabel.text)
    assert any(s.startswith("translate...") for s in statuses), statuses
    assert ui.statusLabel.text.startswith("Done in"), ui.statusLabel.text
    sct = mrml_scene.GetFirstNodeByName(f"{nodes['mr_t1w'].GetName()}_sCT")
    assert sct is not None and sct.GetImageData().GetDimensions() == nodes["mr_t1w"].GetImageData().GetDimensions()
    assert "translating to CT with ddim3d-default, 2 steps" in ui.logTextEdit.toPlainText()
    widget.cleanup()


def test_cancel_kills_the_child_and_adds_nothing(panels, mrml_scene, case_dir):
    app, mods = panels
    widget = mods["MRtoCTTranslation"].MRtoCTTranslationWidget()
    widget.setup()
    ui, p = widget.ui, widget._parameterNode
    nodes = load_case_nodes(mrml_scene, case_dir)
    ui.inputVolumeSelector.setCurrentNode(nodes["mr_t2w"])
    p.steps = 10
    state = _scene_state(mrml_scene)
    ui.applyButton.click()
    pid = widget._job.pid
    _pump(app, lambda: ui.statusLabel.text.startswith("translate"))
    ui.applyButton.click()  # now Cancel
    _pump(app, lambda: ui.applyButton.text == "Apply", timeout=30)
    assert ui.statusLabel.text == "Cancelled: nothing was added to the scene."
    assert _scene_state(mrml_scene) == state
    if os.name == "posix":
        with pytest.raises(ProcessLookupError):
            os.killpg(pid, 0)
    widget.cleanup()


# ---------------------------------------------------------------------------------------------- registration


def test_registration_panel_creates_places_locks_and_shows_the_live_transform(panels, mrml_scene, case_dir):
    app, mods = panels
    widget = mods["SpineLandmarkRegistration"].SpineLandmarkRegistrationWidget()
    widget.setup()
    ui, p = widget.ui, widget._parameterNode
    assert not ui.applyButton.enabled  # no point lists yet
    ui.createFixedLandmarksButton.click()
    fixed = p.fixedLandmarks
    assert ui.fixedLandmarksSelector.currentNode() is fixed and fixed.GetNumberOfControlPoints() == 10
    assert fixed.GetNumberOfDefinedControlPoints() == 0
    ui.placeFixedButton.click()
    assert ui.statusLabel.text == "Click to place L1-body."
    ui.levelRangeLineEdit.text = "L2-L4"
    assert p.levelRange == "L2-L4"

    nodes = load_case_nodes(mrml_scene, case_dir)
    ui.fixedLandmarksSelector.setCurrentNode(nodes["mr_landmarks"])
    ui.movingLandmarksSelector.setCurrentNode(nodes["ct_landmarks"])
    ui.movingVolumeSelector.setCurrentNode(nodes["ct"])
    assert p.fixedLandmarks is nodes["mr_landmarks"] and ui.applyButton.enabled
    ui.lockPlacedButton.click()
    ct_points = nodes["ct_landmarks"]
    assert all(ct_points.GetNthControlPointLocked(i) for i in range(ct_points.GetNumberOfControlPoints())
               if ct_points.GetNthControlPointPositionStatus(i) == ct_points.PositionDefined)
    ui.autoUpdateCheckBox.checked = True
    transform = p.outputTransform
    assert transform is not None and transform.IsA("vtkMRMLLinearTransformNode")
    assert ui.outputTransformSelector.currentNode() is transform  # listed and shown
    assert ui.rmsLabel.text.startswith("RMS ") and "(rigid)" in ui.rmsLabel.text
    assert ui.statusTableWidget.rowCount == 3
    ui.transformTypeComboBox.setCurrentIndex(3)  # piecewise: a grid transform, also listed
    assert p.transformType.value == "piecewise"
    _pump(app, lambda: p.outputTransform is not None and p.outputTransform.IsA("vtkMRMLGridTransformNode"), 60)
    assert ui.outputTransformSelector.currentNode() is p.outputTransform

    # checkerboard beside the fade: shown in the slice views, following the transform the panel uses
    composite = mrml_scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")
    ui.fixedVolumeSelector.setCurrentNode(nodes["mr_t2w"])
    ui.checkerboardCheckBox.checked = True
    board = widget.logic.checkerboard
    assert board is not None and board.transform is p.outputTransform
    assert composite.GetBackgroundVolumeID() == board.node.GetID()
    ui.transformTypeComboBox.setCurrentIndex(0)  # back to rigid: a linear node again, and the board follows it
    _pump(app, lambda: p.outputTransform.IsA("vtkMRMLLinearTransformNode"), 60)
    assert board.transform is p.outputTransform
    board_node = board.node
    ui.checkerboardCheckBox.checked = False
    assert widget.logic.checkerboard is None and not mrml_scene.IsNodePresent(board_node)
    assert composite.GetBackgroundVolumeID() == nodes["mr_t2w"].GetID()
    assert composite.GetForegroundVolumeID() == nodes["ct"].GetID()
    ui.autoUpdateCheckBox.checked = False
    widget.cleanup()
