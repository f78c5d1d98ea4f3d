import enum
import logging

import slicer
import vtk
from slicer import vtkMRMLMarkupsFiducialNode, vtkMRMLScalarVolumeNode, vtkMRMLTransformNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin

from SpineLandmarkRegistrationLib.levels import landmark_names, parse_level_range
from SpineLandmarkRegistrationLib.markups_io import Landmark, LandmarkSet
from SpineLandmarkRegistrationLib.mrml.markups import add_markups_node, landmark_set_from_markups_node

#
# SpineLandmarkRegistration
#


class SpineLandmarkRegistration(ScriptedLoadableModule):
    """Module description shown in Slicer's module list and help panel."""

    def __init__(self, parent=None):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Spine Landmark Registration")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Registration")]
        self.parent.dependencies = []
        self.parent.contributors = ["SpineMRtoCT contributors"]
        self.parent.helpText = _(
            "Register a spine MR to a CT with named landmarks: one point on the vertebral body and one on "
            "the spinous process of each level (e.g. <code>L3-body</code>, <code>L3-spinous</code>). "
            "Points are matched by name, never by order."
        )
        self.parent.acknowledgementText = _(
            "Part of the SpineMRtoCT extension. Level names and label IDs follow VerSe/TPTBox."
        )


#
# Parameter node
#


class TransformType(enum.Enum):
    """Stored by name in the scene, so renaming a member breaks saved scenes."""

    rigid = "rigid"
    similarity = "similarity"
    affine = "affine"
    piecewise = "piecewise"


@parameterNodeWrapper
class SpineLandmarkRegistrationParameterNode:
    """Settings of the module, saved with the scene.

    fixedVolume, movingVolume - CT (fixed) and MR (moving) volumes.
    fixedLandmarks, movingLandmarks - named point lists on each.
    levelRange - the levels to annotate, e.g. "L1-L5" or "T12,L1".
    transformType - rigid, similarity, affine or piecewise (per level).
    outputTransform - moving-to-fixed transform written by Apply.
    """

    fixedVolume: vtkMRMLScalarVolumeNode
    movingVolume: vtkMRMLScalarVolumeNode
    fixedLandmarks: vtkMRMLMarkupsFiducialNode
    movingLandmarks: vtkMRMLMarkupsFiducialNode
    levelRange: str = "L1-L5"
    transformType: TransformType = TransformType.rigid
    outputTransform: vtkMRMLTransformNode


#
# Widget (GUI glue only)
#


class SpineLandmarkRegistrationWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Connects the .ui file to the parameter node; all work is done by the logic."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/SpineLandmarkRegistration.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = SpineLandmarkRegistrationLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.createFixedLandmarksButton.connect("clicked(bool)", self.onCreateFixedLandmarks)
        self.ui.createMovingLandmarksButton.connect("clicked(bool)", self.onCreateMovingLandmarks)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.progressBar.hide()

        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        self.setParameterNode(None)

    def onSceneStartClose(self, caller, event) -> None:
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            self._checkCanApply()

    def _checkCanApply(self, caller=None, event=None) -> None:
        p = self._parameterNode
        missing = [label for label, node in (
            (_("fixed landmarks"), p.fixedLandmarks if p else None),
            (_("moving landmarks"), p.movingLandmarks if p else None),
            (_("output transform"), p.outputTransform if p else None),
        ) if node is None]
        self.ui.applyButton.enabled = not missing
        self.ui.applyButton.toolTip = (
            _("Compute the moving-to-fixed transform") if not missing
            else _("Select: {items}").format(items=", ".join(missing))
        )

    def _createLandmarks(self, role: str) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to create landmarks."), waitCursor=True):
            p = self._parameterNode
            node = self.logic.createLandmarkNode(p.levelRange, f"{role}-landmarks")
            setattr(p, f"{role}Landmarks", node)
            self.ui.statusLabel.text = _("Created {n} unplaced points: place them in order.").format(
                n=node.GetNumberOfControlPoints()
            )

    def onCreateFixedLandmarks(self) -> None:
        self._createLandmarks("fixed")

    def onCreateMovingLandmarks(self) -> None:
        self._createLandmarks("moving")

    def onApplyButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to register."), waitCursor=True):
            p = self._parameterNode
            fixed = self.logic.landmarkSet(p.fixedLandmarks)
            moving = self.logic.landmarkSet(p.movingLandmarks)
            paired = sorted(set(fixed.defined()) & set(moving.defined()))
            self.ui.statusLabel.text = _("{n} landmark pairs placed: {names}").format(
                n=len(paired), names=", ".join(paired)
            )


#
# Logic
#


class SpineLandmarkRegistrationLogic(ScriptedLoadableModuleLogic):
    """Landmark handling for the module; usable from the Python console without the GUI."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return SpineLandmarkRegistrationParameterNode(super().getParameterNode())

    def createLandmarkNode(self, levelRange: str, name: str) -> vtkMRMLMarkupsFiducialNode:
        """A new point list with unplaced points "<level>-body", "<level>-spinous" for each level.

        Annotators then click "place" repeatedly and each click fills the next named point.
        Raises ValueError for a level range that cannot be read.
        """
        names = landmark_names(parse_level_range(levelRange))
        landmarks = LandmarkSet([Landmark(label, None) for label in names], name=name)
        node = add_markups_node(slicer.mrmlScene, landmarks, name)
        logging.info("Created %s with %d unplaced points", node.GetName(), len(names))
        return node

    def landmarkSet(self, node: vtkMRMLMarkupsFiducialNode) -> LandmarkSet:
        """The node's points as named RAS landmarks (None where not placed yet)."""
        if node is None:
            raise ValueError("no landmark point list selected")
        return landmark_set_from_markups_node(node)


#
# Test
#


class SpineLandmarkRegistrationTest(ScriptedLoadableModuleTest):
    """Runs in Slicer (Reload and Test) and headless under the project's stand-in."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        self.setUp()
        self.test_createLandmarkNode()

    def test_createLandmarkNode(self) -> None:
        self.delayDisplay("Creating named unplaced landmarks")
        logic = SpineLandmarkRegistrationLogic()
        node = logic.createLandmarkNode("L4-S1", "CT-landmarks")
        self.assertEqual(
            [node.GetNthControlPointLabel(i) for i in range(node.GetNumberOfControlPoints())],
            ["L4-body", "L4-spinous", "L5-body", "L5-spinous", "S1-body", "S1-spinous"],
        )
        self.assertEqual(node.GetNumberOfDefinedControlPoints(), 0)

        node.SetNthControlPointPosition(2, 1.0, 2.0, 3.0)
        landmarks = logic.landmarkSet(node)
        self.assertEqual(list(landmarks.defined()), ["L5-body"])
        self.assertEqual(list(landmarks.defined()["L5-body"]), [1.0, 2.0, 3.0])

        with self.assertRaises(ValueError):
            logic.createLandmarkNode("L5-L1", "reversed")
        self.delayDisplay("Test passed")
