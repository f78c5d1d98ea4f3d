import logging
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import numpy as np
import SimpleITK as sitk
import slicer
import vtk
from slicer import vtkMRMLLabelMapVolumeNode, vtkMRMLMarkupsFiducialNode, vtkMRMLScalarVolumeNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin

from MRtoCTTranslationLib.options import (
    MAX_SAMPLES,
    MAX_STEPS,
    SegmentationOptions,
    TranslationOptions,
    options_from_settings,
)
from MRtoCTTranslationLib.precision import PRECISIONS
from SpineCoreLib.markups_io import (
    Landmark,
    LandmarkSet,
    write_markups_json,
)
from SpineCoreLib.mrml.case_nodes import load_case_nodes

# torch comes from the PyTorch extension; MONAI 1.6 (Resources/requirements.txt) needs torch 2.8 or later
TORCH_REQUIREMENT = ">=2.8"
# what the child process imports that Slicer does not bundle (Slicer has numpy, scipy, SimpleITK, vtk)
CHILD_MODULES = ("torch", "monai", "einops", "safetensors", "yaml", "tqdm")

#
# MRtoCTTranslation
#


class MRtoCTTranslation(ScriptedLoadableModule):
    """Module description shown in Slicer's module list and help panel."""

    def __init__(self, parent=None):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("MR to CT Translation")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Image Synthesis")]
        self.parent.dependencies = ["SpineCore"]
        self.parent.contributors = ["SpineMRtoCT contributors"]
        self.parent.helpText = _(
            "Synthesize a CT from a spine MR with a 3D denoising diffusion model (DDIM sampling). "
            "The synthetic CT is computed on the MR's own voxel grid, its vertebrae are segmented, and "
            "metrics are computed when a reference CT is given."
        )
        self.parent.acknowledgementText = _(
            "Part of the SpineMRtoCT extension. Diffusion components build on MONAI."
        )


#
# Parameter node
#


@parameterNodeWrapper
class MRtoCTTranslationParameterNode:
    """Settings of the module, saved with the scene. The translation and segmentation settings carry the
    names of ``TranslationOptions`` and ``SegmentationOptions`` (their docstrings say what each does).

    inputVolume - the MR to translate.
    landmarks - optional MR landmarks (e.g. "L3-body") that seed and name the vertebra segmentation.
    referenceVolume - optional CT (registered onto the MR) to compare with.
    referenceLabels - optional vertebra label map of the reference, for Dice.
    steps - 0 takes the model card's default.
    foregroundOpacity - opacity of the result over the MR in the slice views.
    """

    inputVolume: vtkMRMLScalarVolumeNode
    landmarks: vtkMRMLMarkupsFiducialNode
    referenceVolume: vtkMRMLScalarVolumeNode
    referenceLabels: vtkMRMLLabelMapVolumeNode
    model: str = "ddim3d-default"
    target: str = "CT"
    steps: Annotated[int, WithinRange(0, MAX_STEPS)] = 0
    eta: Annotated[float, WithinRange(0.0, 1.0)] = 0.0
    seed: int = 0
    samples: Annotated[int, WithinRange(1, MAX_SAMPLES)] = 1
    device: Annotated[str, Choice(["auto", "cpu", "cuda"])] = "auto"
    precision: Annotated[str, Choice(list(PRECISIONS))] = "auto"
    output_iso: bool = False
    bias_correction: bool = True
    crop_to_spine: bool = True
    segment: bool = True
    segmentation_method: str = "builtin"
    segmentation_weights: str = ""
    foregroundOpacity: Annotated[float, WithinRange(0.0, 1.0)] = 0.5


#
# Widget (GUI glue only)
#


class MRtoCTTranslationWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Connects the .ui file to the parameter node; all work is done by the logic.

    Apply starts a background job (a child process: the GUI stays responsive and the work runs at
    full speed) and turns into Cancel; a timer shows progress, ETA and log lines, and adds the result
    nodes at the end.
    """

    POLL_MS = 200
    # Combos whose items are known only at run time (the models on this computer, the chosen model's
    # targets) or that take typed text (a model folder or URL, a MONAI bundle folder). Slicer's
    # QComboBox connector would replace their items with a fixed Choice, so they are not bound in the
    # .ui but synced with the parameter node here.
    HAND_SYNCED = {"modelComboBox": "model", "targetComboBox": "target",
                   "segmentationMethodComboBox": "segmentation_method"}

    def __init__(self, parent=None, logic=None) -> None:
        """``logic``: the Logic to drive (tests inject one); by default the module's own."""
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = logic
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._job = None
        self._timer = None
        self._logLines = []
        self._logHandler = None

    def setup(self) -> None:
        import qt

        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/MRtoCTTranslation.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = self.logic or MRtoCTTranslationLogic()
        self._timer = qt.QTimer()
        self._timer.setInterval(self.POLL_MS)
        self._timer.connect("timeout()", self._poll)
        self._logHandler = _ListLogHandler(self._logLines)
        libLogger = logging.getLogger("MRtoCTTranslationLib")
        libLogger.addHandler(self._logHandler)
        if libLogger.getEffectiveLevel() > logging.INFO:  # the pane shows the run's choices (model, steps, precision)
            libLogger.setLevel(logging.INFO)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        for entry in self.logic.availableModels():
            self.ui.modelComboBox.addItem(entry["name"])
        for method in ("builtin", "totalsegmentator"):
            self.ui.segmentationMethodComboBox.addItem(method)
        for widget, field in self.HAND_SYNCED.items():
            getattr(self.ui, widget).connect("currentTextChanged(QString)",
                                             lambda text, field=field: self._onComboText(field, text))
        self.ui.loadCaseButton.connect("clicked(bool)", self.onLoadCase)
        self.ui.loadSampleButton.connect("clicked(bool)", self.onLoadSample)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.foregroundOpacitySlider.connect("valueChanged(double)", self._setOpacity)
        self.ui.progressBar.hide()

        self.initializeParameterNode()

    def cleanup(self) -> None:
        if self._job is not None:
            self._job.cancel()
        if self._timer is not None:
            self._timer.stop()
        logging.getLogger("MRtoCTTranslationLib").removeHandler(self._logHandler)
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        self.setParameterNode(None)

    def onSceneStartClose(self, caller, event) -> None:
        if self._job is not None:
            self._job.cancel()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if first and not first.IsA("vtkMRMLLabelMapVolumeNode"):
                self._parameterNode.inputVolume = first

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
            self._showModelCard(self._parameterNode.model)
            self._onParameterNodeModified()

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        self._syncCombos()
        self._checkCanApply()

    def _onComboText(self, field: str, text: str) -> None:
        """A hand-synced combo changed: store its text; a new model shows its card and targets."""
        p = self._parameterNode
        if p is None or getattr(p, field) == text:
            return
        setattr(p, field, text)
        if field == "model":
            self._showModelCard(text)

    def _syncCombos(self) -> None:
        """Show the parameter node's values in the hand-synced combos (a typed folder stays as typed)."""
        p = self._parameterNode
        if p is None:
            return
        for widget, field in self.HAND_SYNCED.items():
            combo, value = getattr(self.ui, widget), getattr(p, field)
            if combo.currentText == value:
                continue
            combo.blockSignals(True)
            index = combo.findText(value)
            if index >= 0:
                combo.setCurrentIndex(index)
            elif combo.editable:
                combo.setEditText(value)
            combo.blockSignals(False)
            if field == "model":  # set from outside (a loaded scene, the console): its card and targets
                self._showModelCard(value)

    def _checkCanApply(self, caller=None, event=None) -> None:
        if self._job is not None:  # running: the button is Cancel
            return
        p = self._parameterNode
        ready = bool(p and p.inputVolume)
        self.ui.applyButton.enabled = ready
        self.ui.applyButton.toolTip = (
            _("Synthesize a CT from the input MR") if ready else _("Select an input MR volume")
        )

    def _showModelCard(self, name: str) -> None:
        self.ui.modelInfoLabel.text = self.logic.modelDescription(name)
        targets = self.logic.modelTargets(name)
        current = self._parameterNode.target if self._parameterNode else "CT"
        self.ui.targetComboBox.blockSignals(True)
        self.ui.targetComboBox.clear()
        for t in targets:
            self.ui.targetComboBox.addItem(t)
        self.ui.targetComboBox.blockSignals(False)
        self.ui.targetComboBox.enabled = len(targets) > 1  # a selector only when the model has several
        if self._parameterNode:
            self._parameterNode.target = current if current in targets else (targets[0] if targets else "CT")
            self._syncCombos()

    def _setOpacity(self, value: float) -> None:
        for i in range(slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLSliceCompositeNode")):
            slicer.mrmlScene.GetNthNodeByClass(i, "vtkMRMLSliceCompositeNode").SetForegroundOpacity(value)

    def onLoadCase(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to load the case."), waitCursor=True):
            self._useCase(self.logic.loadCase(self.ui.caseDirectoryPathLineEdit.currentPath))

    def onLoadSample(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to make the sample case."), waitCursor=True):
            self._useCase(self.logic.loadSample())

    def _useCase(self, nodes: dict) -> None:
        p = self._parameterNode
        p.inputVolume = nodes.get("mr_t2w") or nodes.get("mr_t1w") or p.inputVolume
        p.referenceVolume = nodes.get("ct_mrworld") or p.referenceVolume
        p.referenceLabels = nodes.get("ct_mrworld_seg") or p.referenceLabels
        p.landmarks = nodes.get("mr_landmarks") or p.landmarks
        self.ui.statusLabel.text = _("Loaded: {names}").format(names=", ".join(nodes))

    def onApplyButton(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.ui.statusLabel.text = _("Cancelling...")
            return
        with slicer.util.tryWithErrorDisplay(_("Failed to start the translation."), waitCursor=True):
            if not self.logic.ensureDependencies():
                return
            self._logLines.clear()
            self.ui.logTextEdit.clear()
            self._job = self.logic.processParameterNode(self._parameterNode, waitForCompletion=False)
            self.ui.applyButton.text = _("Cancel")
            self.ui.applyButton.toolTip = _("Stop the translation; nothing is added to the scene")
            self.ui.progressBar.setValue(0)
            self.ui.progressBar.show()
            self._timer.start()

    def _poll(self) -> None:
        job = self._job
        while self._logLines:
            self.ui.logTextEdit.appendPlainText(self._logLines.pop(0))
        if job is None:
            self._timer.stop()
            return
        self.ui.progressBar.setValue(int(100 * job.fraction))
        eta = job.eta_seconds()
        self.ui.statusLabel.text = _("{stage}... {eta}").format(
            stage=job.stage or _("starting"), eta=_("about {s:.0f} s left").format(s=eta) if eta is not None else "")
        if not job.finished:
            return
        self._timer.stop()
        self._job = None
        self.ui.applyButton.text = _("Apply")
        self.ui.progressBar.hide()
        self._checkCanApply()
        if job.state == "cancelled":
            self.ui.statusLabel.text = _("Cancelled: nothing was added to the scene.")
            return
        with slicer.util.tryWithErrorDisplay(_("Failed to synthesize the CT."), waitCursor=True):
            nodes = job.commit()
            m = nodes.result.metrics
            self.ui.statusLabel.text = _("Done in {s:.0f} s.").format(s=sum(nodes.result.timings.values())) + (
                " " + _("MAE {mae:.0f} HU inside the body.").format(mae=m["image"]["mae_body_hu"]) if m else "")


class _ListLogHandler(logging.Handler):
    """Collects log lines from any thread; the widget's timer moves them into the log pane."""

    def __init__(self, lines: list) -> None:
        super().__init__(logging.INFO)
        self.lines = lines
        self.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


#
# Logic
#


class MRtoCTTranslationLogic(ScriptedLoadableModuleLogic):
    """Data handling and synthesis for the module; usable from the Python console without the GUI."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return MRtoCTTranslationParameterNode(super().getParameterNode())

    @staticmethod
    def availableModels() -> list:
        """Model catalogue entries (built-in, per-user, downloadable) with their card summaries."""
        from MRtoCTTranslationLib.models.registry import list_models

        return list_models()

    def modelDescription(self, name: str) -> str:
        """A few lines about a model for the panel: what it is, input, spacing, held-out metrics, citation."""
        from MRtoCTTranslationLib.models.card import read_card
        from MRtoCTTranslationLib.models.metrics_text import held_out_texts

        for entry in self.availableModels():
            if entry["name"] != name:
                continue
            if not entry.get("available", True):
                return _("{name}: not usable ({error})").format(name=name, error=entry.get("error", ""))
            lines = [entry.get("description", "")]
            data = entry.get("training_data") or {}
            if data.get("synthetic") is True:
                lines.append(_("Trained on synthetic phantom data only: not validated on patients, not for "
                               "clinical use."))
            if data:
                lines.append(_("Training data: {cohort} ({n} subjects). Intended use: {use}").format(
                    cohort=data.get("cohort", "?"), n=data.get("subjects", "?"), use=entry.get("intended_use", "?")))
            if entry.get("input_modality"):
                lines.append(_("Input: {m} ({c}), {s} mm").format(m=entry["input_modality"],
                                                                 c=", ".join(entry.get("input_contrasts") or []),
                                                                 s=entry.get("spacing_mm", "?")))
            if entry.get("kind") == "syndiff":  # adversarial steps: exactly as many as it was trained with
                lines.append(_("Steps: {n}, fixed (SynDiff samples in the steps it was trained with)").format(
                    n=entry["default_steps"]))
            elif entry.get("default_steps"):
                lines.append(_("Default steps: {n} (the fewest within 0.3 dB PSNR of 20 on held-out cases)").format(
                    n=entry["default_steps"]))
            for key, text in held_out_texts(entry.get("metrics") or {}):
                lines.append(_("Held-out {c}: {t}").format(c=key, t=text))  # the text names its cohort
            if entry.get("folder"):
                lines.append(read_card(entry["folder"]).citation)
            elif entry.get("url"):
                lines.append(_("Downloaded on first use from {url} (SHA256 checked)").format(url=entry["url"]))
            return "\n".join(x for x in lines if x)
        return _("Not in the catalogue: a model folder or URL")

    def modelTargets(self, name: str) -> list:
        """The output modalities a model offers (["CT"] for the diffusion and Pix2Pix models)."""
        for entry in self.availableModels():
            if entry["name"] == name and entry.get("targets"):
                return list(entry["targets"])
        return ["CT"]

    @staticmethod
    def missingDependencies() -> list:
        """Import names of what the translation's child process needs and this Python lacks. Looked up,
        not imported: Slicer itself never loads torch."""
        import importlib.util

        def absent(name: str) -> bool:
            try:
                return importlib.util.find_spec(name) is None
            except (ImportError, ValueError):  # a broken install counts as missing
                return True

        return [m for m in CHILD_MODULES if absent(m)]

    def ensureDependencies(self) -> bool:
        """True when everything the translation needs is installed; else offer to install it (Slicer GUI)."""
        missing = self.missingDependencies()
        if not missing:
            return True
        if not slicer.util.confirmOkCancelDisplay(
                _("This module needs: {m}. Install them now (this can take several minutes)?").format(
                    m=", ".join(missing))):
            return False
        if "torch" in missing:  # through the PyTorch extension, which picks the right CUDA build
            try:
                import PyTorchUtils

                PyTorchUtils.PyTorchUtilsLogic().installTorch(askConfirmation=False,
                                                              torchVersionRequirement=TORCH_REQUIREMENT)
            except ImportError:
                slicer.util.errorDisplay(_("Install the PyTorch extension from the Extensions Manager, restart "
                                           "Slicer and try again."))
                return False
        requirements = Path(__file__).parent / "Resources" / "requirements.txt"
        slicer.util.pip_install(["-r", str(requirements)])
        return True

    def loadCase(self, subjectDir: str) -> dict:
        """Load the files of a subject folder that exist into new nodes, keyed by file stem (e.g. "ct_seg").

        Scalar volumes, labelmaps and landmark point lists are read with SimpleITK and the
        project's markups reader (no Slicer IO), so the same code runs headless. The files are
        only read. Raises FileNotFoundError when the folder holds none of the expected files.
        """
        return load_case_nodes(slicer.mrmlScene, subjectDir)

    def loadSample(self, folder: str | None = None, seed: int = 7) -> dict:
        """Make a phantom case (five lumbar levels, about 6 s) in ``folder`` (a new temporary one by default)
        and load it."""
        from SpineCoreLib.phantom import PhantomOptions, generate_case

        out = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="SpineMRtoCT-sample-"))
        case = generate_case(out, "sample", seed, PhantomOptions())["truth"].parent
        return self.loadCase(str(case))

    def process(self, inputVolume, options: TranslationOptions | None = None,
                segmentation: SegmentationOptions | None = None, referenceVolume=None, referenceLabels=None,
                landmarks=None, foregroundOpacity: float = 0.5, waitForCompletion: bool = True, progress=None):
        """The translation of ``inputVolume`` (and its vertebra segmentation, uncertainty, metrics) in new nodes.

        ``options`` (``TranslationOptions``: model, target, steps, eta, seed, samples, device, precision,
        window, overlap, output_iso, bias_correction, crop_to_spine) and ``segmentation``
        (``SegmentationOptions``) default to the defaults: the default model's card steps, precision auto (bf16 only where the hardware computes
        it natively; the log says which). The input and the other given nodes are only read. With
        ``waitForCompletion`` (the console default) returns the created nodes (``TranslationNodes``:
        sct, sct_iso, uncertainty, segmentation, metrics_table, result); otherwise a started
        ``TranslationJob``: poll ``job.finished``, then call ``job.commit()`` on the main thread, or
        ``job.cancel()``. The work runs in a child process (``childPython``); ``progress(stage, done,
        total)`` is called on the thread that polls.
        Segmentation and HU metrics are computed for a CT target only. A cancel or an error leaves the
        scene as it was.
        """
        from MRtoCTTranslationLib.mrml.translation_job import TranslationJob

        job = TranslationJob(slicer.mrmlScene, inputVolume, options or TranslationOptions(), segmentation,
                             landmarks=landmarks, reference=referenceVolume, reference_labels=referenceLabels,
                             foreground_opacity=foregroundOpacity, progress=progress, python=self.childPython())
        if not waitForCompletion:
            job.start()
            return job
        job.run()
        return job.commit()

    @staticmethod
    def childPython() -> str | None:
        """The interpreter of the translation's child process: PythonSlicer in Slicer (Slicer's Python and
        packages, without the GUI, as SlicerTotalSegmentator runs its work); None elsewhere (this one)."""
        if not hasattr(slicer, "app"):
            return None
        import shutil

        found = shutil.which("PythonSlicer")
        if found is None:
            raise RuntimeError("PythonSlicer was not found next to Slicer: reinstall Slicer")
        return found

    def processParameterNode(self, p, waitForCompletion: bool = True, progress=None):
        """``process`` with the settings of a parameter node (what Apply does): the node's fields carry the
        options' own names, so they are read, not copied one by one."""
        options, segmentation = options_from_settings(p)
        return self.process(p.inputVolume, options, segmentation, referenceVolume=p.referenceVolume,
                            referenceLabels=p.referenceLabels, landmarks=p.landmarks,
                            foregroundOpacity=p.foregroundOpacity, waitForCompletion=waitForCompletion,
                            progress=progress)


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
        self.setUp()
        self.test_processSample()

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

    def test_processSample(self) -> None:
        self.delayDisplay("Making a phantom case and translating it (2 DDIM steps)")
        folder = Path(tempfile.mkdtemp(prefix="MRtoCTTranslationTest-"))
        try:
            logic = MRtoCTTranslationLogic()
            nodes = logic.loadSample(str(folder))
            mr = nodes["mr_t2w"]
            before = slicer.util.arrayFromVolume(mr).copy()
            out = logic.process(mr, TranslationOptions(steps=2), referenceVolume=nodes["ct_mrworld"],
                                referenceLabels=nodes["ct_mrworld_seg"], landmarks=nodes["mr_landmarks"])
            np.testing.assert_array_equal(slicer.util.arrayFromVolume(mr), before)
            self.assertEqual(out.sct.GetImageData().GetDimensions(), mr.GetImageData().GetDimensions())
            self.assertGreater(out.segmentation.GetSegmentation().GetNumberOfSegments(), 0)
            self.assertIsNotNone(out.metrics_table)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self.delayDisplay("Test passed")
