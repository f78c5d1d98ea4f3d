import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import numpy as np
import SimpleITK as sitk
import slicer
import vtk
from slicer import vtkMRMLScalarVolumeNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin

from MRtoCTTranslationLib.mrml.case_nodes import load_case_nodes
from SpineLandmarkRegistrationLib.markups_io import (
    Landmark,
    LandmarkSet,
    write_markups_json,
)

#
# MRtoCTTranslation
#


class MRtoCTTranslation(ScriptedLoadableModule):
    """Module description shown in Slicer's module list and help panel."""

    def __init__(self, parent=None):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("MR to CT Translation")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Image Synthesis")]
        self.parent.dependencies = ["SpineLandmarkRegistration"]
        self.parent.contributors = ["SpineMRtoCT contributors"]
        self.parent.helpText = _(
            "Synthesize a CT from a spine MR with a 3D denoising diffusion model (DDIM sampling). "
            "The synthetic CT is computed on the MR's own voxel grid."
        )
        self.parent.acknowledgementText = _(
            "Part of the SpineMRtoCT extension. Diffusion components build on MONAI."
        )


#
# Parameter node
#


@parameterNodeWrapper
class MRtoCTTranslationParameterNode:
    """Settings of the module, saved with the scene.

    inputVolume - the MR to translate.
    referenceVolume - optional CT to compare with.
    outputVolume - receives the synthetic CT.
    modelName - model catalogue entry.
    steps, eta, seed, samples - DDIM sampling: steps, stochasticity, random seed, number of samples.
    segment - also segment the vertebrae of the synthetic CT.
    """

    inputVolume: vtkMRMLScalarVolumeNode
    referenceVolume: vtkMRMLScalarVolumeNode
    outputVolume: vtkMRMLScalarVolumeNode
    modelName: str = "ddim3d-default"
    steps: Annotated[int, WithinRange(1, 1000)] = 20
    eta: float = 0.0
    seed: int = 0
    samples: Annotated[int, WithinRange(1, 32)] = 1
    segment: bool = True


#
# Widget (GUI glue only)
#


class MRtoCTTranslationWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Connects the .ui file to the parameter node; all work is done by the logic."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MRtoCTTranslation.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = MRtoCTTranslationLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.loadCaseButton.connect("clicked(bool)", self.onLoadCase)
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
        if not self._parameterNode.inputVolume:
            first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if first:
                self._parameterNode.inputVolume = first

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
        ready = bool(p and p.inputVolume and p.outputVolume)
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = (
            _("Synthesize a CT from the input MR") if ready else _("Select an input MR and an output volume")
        )

    def onLoadCase(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to load the case."), waitCursor=True):
            nodes = self.logic.loadCase(self.ui.caseDirectoryPathLineEdit.currentPath)
            p = self._parameterNode
            p.inputVolume = nodes.get("mr_t2w") or nodes.get("mr_t1w") or p.inputVolume
            p.referenceVolume = nodes.get("ct_mrworld") or nodes.get("ct") or p.referenceVolume
            self.ui.statusLabel.text = _("Loaded: {names}").format(names=", ".join(nodes))

    def onApplyButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to synthesize the CT."), waitCursor=True):
            self.logic.process(self._parameterNode)


#
# Logic
#


class MRtoCTTranslationLogic(ScriptedLoadableModuleLogic):
    """Data handling and synthesis for the module; usable from the Python console without the GUI."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return MRtoCTTranslationParameterNode(super().getParameterNode())

    def loadCase(self, subjectDir: str) -> dict:
        """Load the files of a subject folder that exist into new nodes, keyed by file stem (e.g. "ct_seg").

        Scalar volumes, labelmaps and landmark point lists are read with SimpleITK and the
        project's markups reader (no Slicer IO), so the same code runs headless. The files are
        only read. Raises FileNotFoundError when the folder holds none of the expected files.
        """
        return load_case_nodes(slicer.mrmlScene, subjectDir)

    def process(self, parameterNode) -> None:
        """Synthesize a CT into ``parameterNode.outputVolume`` (not implemented yet)."""
        raise NotImplementedError("CT synthesis is not available in this version of the module")


#
# Test
#


class MRtoCTTranslationTest(ScriptedLoadableModuleTest):
    """Runs in Slicer (Reload and Test) and headless under the project's stand-in."""

    def setUp(self) -> None:
        slicer.mrmlScene.Clear()

    def runTest(self) -> None:
        self.setUp()
        self.test_loadCase()

    def test_loadCase(self) -> None:
        self.delayDisplay("Writing a tiny subject folder")
        folder = Path(tempfile.mkdtemp(prefix="MRtoCTTranslationTest-"))
        try:
            mr = sitk.GetImageFromArray(np.arange(60, dtype=np.float32).reshape(3, 4, 5))
            mr.SetSpacing((0.8, 0.9, 3.0))
            mr.SetOrigin((10.0, -20.0, 30.0))
            sitk.WriteImage(mr, str(folder / "mr_t2w.nii.gz"))
            seg = sitk.Cast(mr > 30, sitk.sitkUInt8)
            sitk.WriteImage(seg, str(folder / "mr_seg.nii.gz"))
            landmarks = LandmarkSet([Landmark("L1-body", np.array([1.0, 2.0, 3.0])), Landmark("L1-spinous", None)])
            write_markups_json(folder / "mr_landmarks.mrk.json", landmarks)

            self.delayDisplay("Loading it")
            nodes = MRtoCTTranslationLogic().loadCase(str(folder))
            self.assertEqual(sorted(nodes), ["mr_landmarks", "mr_seg", "mr_t2w"])
            self.assertEqual(nodes["mr_t2w"].GetClassName(), "vtkMRMLScalarVolumeNode")
            self.assertEqual(nodes["mr_seg"].GetClassName(), "vtkMRMLLabelMapVolumeNode")
            # NIfTI stores geometry as float32; origin is LPS in the file, RAS in the node
            np.testing.assert_allclose(nodes["mr_t2w"].GetSpacing(), [0.8, 0.9, 3.0], atol=1e-6)
            np.testing.assert_allclose(nodes["mr_t2w"].GetOrigin(), [-10.0, 20.0, 30.0], atol=1e-6)
            points = nodes["mr_landmarks"]
            self.assertEqual(points.GetNumberOfControlPoints(), 2)
            self.assertEqual(points.GetNumberOfDefinedControlPoints(), 1)

            with self.assertRaises(FileNotFoundError):
                MRtoCTTranslationLogic().loadCase(str(folder / "missing"))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.delayDisplay("Test passed")
