import enum
import logging
import os

import qt
import slicer
import vtk
from slicer import vtkMRMLMarkupsFiducialNode, vtkMRMLScalarVolumeNode, vtkMRMLTransformNode
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.parameterNodeWrapper import parameterNodeWrapper
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin

from SpineCoreLib.markups_io import LandmarkSet
from SpineCoreLib.mrml.checks import node_of
from SpineCoreLib.mrml.markups import landmark_set_from_markups_node
from SpineCoreLib.mrml.volumes import grid_from_volume_node
from SpineLandmarkRegistrationLib.mrml import (
    landmark_placement,
    live_registration,
    residual_table,
    transform_nodes,
)

#
# SpineLandmarkRegistration
#


class SpineLandmarkRegistration(ScriptedLoadableModule):
    """Module description shown in Slicer's module list and help panel."""

    def __init__(self, parent=None):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Spine Landmark Registration")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Registration")]
        self.parent.dependencies = ["SpineCore"]
        self.parent.contributors = ["SpineMRtoCT contributors"]
        self.parent.helpText = _(
            "Register a spine CT (moving) to an MR (fixed) with named landmarks: one point on the vertebral "
            "body and one on the spinous process of each level (e.g. <code>L3-body</code>, "
            "<code>L3-spinous</code>). Points are matched by name, never by order. With auto-update on, "
            "the transform, the residual of each pair and the RMS follow every point you place or move."
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

    fixedVolume, movingVolume - MR (fixed, stays in place) and CT (moving, registered onto the MR).
    fixedLandmarks, movingLandmarks - named point lists on each.
    levelRange - the levels to annotate, e.g. "L1-L5" or "T12,L1".
    transformType - rigid, similarity, affine or piecewise (one rigid transform per level).
    outputTransform - moving-to-fixed transform written by Apply and by auto-update.
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
    """Connects the .ui file to the parameter node and the logic; all work is done by the logic."""

    STATUS_COLUMNS = (
        ("body", 0), ("body", 1), ("body", 2), ("spinous", 0), ("spinous", 1), ("spinous", 2),
    )

    def __init__(self, parent=None, logic=None) -> None:
        """``logic``: the Logic to drive (tests inject one); by default the module's own."""
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = logic
        self._parameterNode = None
        self._parameterNodeGuiTag = None

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/SpineLandmarkRegistration.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = self.logic or SpineLandmarkRegistrationLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.createFixedLandmarksButton.connect("clicked(bool)", self.onCreateFixedLandmarks)
        self.ui.createMovingLandmarksButton.connect("clicked(bool)", self.onCreateMovingLandmarks)
        self.ui.placeFixedButton.connect("clicked(bool)", self.onPlaceNextFixed)
        self.ui.placeMovingButton.connect("clicked(bool)", self.onPlaceNextMoving)
        self.ui.lockPlacedButton.connect("clicked(bool)", self.onLockPlaced)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.autoUpdateCheckBox.connect("toggled(bool)", self.onAutoUpdateToggled)
        self.ui.previewCheckBox.connect("toggled(bool)", self.onPreviewToggled)
        self.ui.fadeSlider.connect("valueChanged(double)", self.onFadeChanged)
        self.ui.checkerboardCheckBox.connect("toggled(bool)", self.onCheckerboardToggled)
        self.ui.hardenButton.connect("clicked(bool)", self.onHardenCopy)
        self.ui.exportButton.connect("clicked(bool)", self.onExport)
        self.ui.statusTableWidget.setColumnCount(len(self.STATUS_COLUMNS))
        self.ui.statusTableWidget.setHorizontalHeaderLabels(
            [_("body fixed"), _("body moving"), _("body residual"),
             _("spinous fixed"), _("spinous moving"), _("spinous residual")]
        )
        self.ui.progressBar.hide()

        self.initializeParameterNode()

    def cleanup(self) -> None:
        self.logic.stopLiveRegistration()
        self.logic.stopCheckerboard()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        self.setParameterNode(None)

    def onSceneStartClose(self, caller, event) -> None:
        self.ui.autoUpdateCheckBox.checked = False
        self.logic.stopLiveRegistration()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterChanged)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterChanged)
            self._onParameterChanged()

    def _onParameterChanged(self, caller=None, event=None) -> None:
        p = self._parameterNode
        live = self.logic.liveRegistration
        if p and live is not None and live.mode != p.transformType.value:
            live.set_mode(p.transformType.value)
        board = self.logic.checkerboard
        if p and board is not None and p.outputTransform is not None and board.transform is not p.outputTransform:
            board.set_transform(p.outputTransform)
        self._checkCanApply()

    def _checkCanApply(self) -> None:
        p = self._parameterNode
        missing = [label for label, node in (
            (_("fixed landmarks"), p.fixedLandmarks if p else None),
            (_("moving landmarks"), p.movingLandmarks if p else None),
        ) if node is None]
        for widget in (self.ui.applyButton, self.ui.autoUpdateCheckBox):
            widget.enabled = not missing
            widget.toolTip = (
                _("Compute the moving-to-fixed transform and the residual of each pair") if not missing
                else _("Select: {items}").format(items=", ".join(missing))
            )
        hasTransform = bool(p and p.outputTransform and p.movingVolume)
        self.ui.hardenButton.enabled = hasTransform
        self.ui.exportButton.enabled = bool(hasTransform and p.fixedVolume)

    def _createLandmarks(self, role: str) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to create landmarks."), waitCursor=True):
            p = self._parameterNode
            node = self.logic.createLandmarkNode(p.levelRange, f"{role}-landmarks")
            setattr(p, f"{role}Landmarks", node)
            self.ui.statusLabel.text = _("Created {n} unplaced points: click 'Place next' and place them in order.").format(
                n=node.GetNumberOfControlPoints()
            )

    def onCreateFixedLandmarks(self) -> None:
        self._createLandmarks("fixed")

    def onCreateMovingLandmarks(self) -> None:
        self._createLandmarks("moving")

    def _placeNext(self, role: str) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to start placing."), waitCursor=False):
            node = getattr(self._parameterNode, f"{role}Landmarks")
            index = self.logic.placeNext(node)
            self.ui.statusLabel.text = (
                _("All points of {name} are placed.").format(name=node.GetName()) if index is None
                else _("Click to place {label}.").format(label=node.GetNthControlPointLabel(index))
            )

    def onPlaceNextFixed(self) -> None:
        self._placeNext("fixed")

    def onPlaceNextMoving(self) -> None:
        self._placeNext("moving")

    def onLockPlaced(self) -> None:
        p = self._parameterNode
        for node in (p.fixedLandmarks, p.movingLandmarks):
            if node is not None:
                self.logic.lockLandmarks(node, list(self.logic.landmarkSet(node).defined()))

    def onAutoUpdateToggled(self, on: bool) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to start auto-update."), waitCursor=True):
            if not on:
                self.logic.stopLiveRegistration()
                return
            p = self._parameterNode
            live = self.logic.startLiveRegistration(
                p.fixedLandmarks, p.movingLandmarks, p.transformType.value,
                movingVolume=p.movingVolume if self.ui.previewCheckBox.checked else None,
                transformNode=p.outputTransform, fixedVolume=p.fixedVolume)
            live.updated.append(self._onLiveUpdated)
            self._onLiveUpdated(live)

    def _onLiveUpdated(self, live) -> None:
        if live.transform_node is not None and self._parameterNode.outputTransform is not live.transform_node:
            self._parameterNode.outputTransform = live.transform_node
        self._showResults(live.table_node, live.error)

    def onApplyButton(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to register."), waitCursor=True):
            p = self._parameterNode
            node, report = self.logic.register(
                p.fixedLandmarks, p.movingLandmarks, p.transformType.value,
                movingVolume=p.movingVolume if self.ui.previewCheckBox.checked else None,
                transformNode=p.outputTransform, fixedVolume=p.fixedVolume)
            p.outputTransform = node
            self._showResults(self.logic.residualTableNode, None)

    def _showResults(self, tableNode, error) -> None:
        """Status grid (levels x body/spinous x fixed/moving/residual) and the RMS/warnings label."""
        if tableNode is None:
            return
        rows = residual_table.level_status(tableNode)
        table = self.ui.statusTableWidget
        table.setRowCount(len(rows))
        table.setVerticalHeaderLabels([level for level, _cells in rows])
        for r, (_level, cells) in enumerate(rows):
            for c, (kind, part) in enumerate(self.STATUS_COLUMNS):
                table.setItem(r, c, qt.QTableWidgetItem(cells[kind][part]))
        rms = tableNode.GetAttribute(transform_nodes.ATTR + "rms_mm") or ""
        warnings = tableNode.GetAttribute(transform_nodes.ATTR + "warnings") or ""
        if error:
            text = _("Not updated: {error}").format(error=error)
        elif rms:
            text = _("RMS {rms:.2f} mm ({mode})").format(rms=float(rms), mode=tableNode.GetAttribute(transform_nodes.ATTR + "mode"))
        else:
            text = ""
        if warnings and not error:
            text += "\n" + "\n".join(_("Warning: {w}").format(w=w) for w in warnings.split("\n"))
        self.ui.rmsLabel.text = text

    def onPreviewToggled(self, on: bool) -> None:
        p = self._parameterNode
        self.logic.setPreview(p.movingVolume, p.outputTransform, on)
        if on and p.fixedVolume and p.movingVolume:
            slicer.util.setSliceViewerLayers(background=p.fixedVolume, foreground=p.movingVolume,
                                             foregroundOpacity=self.ui.fadeSlider.value, fit=True)

    def onFadeChanged(self, value: float) -> None:
        """Fade between the fixed volume (0) and the registered moving volume (1)."""
        p = self._parameterNode
        if p and p.fixedVolume and p.movingVolume:
            slicer.util.setSliceViewerLayers(background=p.fixedVolume, foreground=p.movingVolume,
                                             foregroundOpacity=value)

    def onCheckerboardToggled(self, on: bool) -> None:
        """Fixed and registered moving volumes in alternating squares (off: the fade view again)."""
        with slicer.util.tryWithErrorDisplay(_("Failed to show the checkerboard."), waitCursor=True):
            p = self._parameterNode
            if not on:
                self.logic.stopCheckerboard()
                if p.fixedVolume and p.movingVolume:
                    slicer.util.setSliceViewerLayers(background=p.fixedVolume, foreground=p.movingVolume,
                                                     foregroundOpacity=self.ui.fadeSlider.value)
                return
            node = self.logic.startCheckerboard(p.fixedVolume, p.movingVolume, p.outputTransform)
            slicer.util.setSliceViewerLayers(background=node, foregroundOpacity=0.0, fit=True)

    def onHardenCopy(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to harden a copy."), waitCursor=True):
            p = self._parameterNode
            copy = self.logic.hardenCopy(p.movingVolume, p.outputTransform)
            self.ui.statusLabel.text = _("Created {name}; {moving} is unchanged.").format(
                name=copy.GetName(), moving=p.movingVolume.GetName())

    def onExport(self) -> None:
        with slicer.util.tryWithErrorDisplay(_("Failed to export the pair."), waitCursor=True):
            p = self._parameterNode
            outDir = self.ui.exportDirectoryPathLineEdit.currentPath
            subject = self.ui.subjectLineEdit.text.strip() or p.fixedVolume.GetName()
            spacing = self.ui.exportSpacingSpinBox.value or None
            registration = self.logic.lastRegistration if self.logic.lastTransformNode is p.outputTransform else None
            files = self.logic.exportPair(p.fixedVolume, p.movingVolume, registration or p.outputTransform,
                                          outDir, subject, spacing=spacing)
            self.ui.statusLabel.text = _("Wrote {n} files to {folder}").format(
                n=len(files), folder=os.path.join(outDir, subject))


#
# Logic
#


class SpineLandmarkRegistrationLogic(ScriptedLoadableModuleLogic):
    """Landmark registration for the module; every method works from the Python console without the GUI.

    Console example (MR fixed, CT moving)::

        logic = slicer.util.getModuleLogic("SpineLandmarkRegistration")  # or SpineLandmarkRegistrationLogic()
        mr = logic.createLandmarkNode("L1-L5", "MR-landmarks")   # place the points, then likewise for the CT
        node, report = logic.register(mr, ct, mode="rigid", movingVolume=ctVolume)
        print(report.rms_mm, report.residuals_mm, report.warnings)
        live = logic.startLiveRegistration(mr, ct, "piecewise", movingVolume=ctVolume)  # follows every edit
        logic.stopLiveRegistration()
        copy = logic.hardenCopy(ctVolume, node)                    # the CT itself is left unchanged
        logic.exportPair(mrVolume, ctVolume, node, "/data/pairs", "sub-01", spacing=1.0)
    """

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)
        self.liveRegistration = None
        self.checkerboard = None
        self.lastRegistration = None
        self.lastTransformNode = None
        self.residualTableNode = None

    def getParameterNode(self):
        return SpineLandmarkRegistrationParameterNode(super().getParameterNode())

    # landmarks ---------------------------------------------------------------------------------
    def createLandmarkNode(self, levelRange: str, name: str) -> vtkMRMLMarkupsFiducialNode:
        """A new point list with unplaced points "<level>-body", "<level>-spinous" for each level.

        Annotators then click "place" repeatedly and each click fills the next named point.
        Raises ValueError for a level range that cannot be read.
        """
        return landmark_placement.create_landmark_node(slicer.mrmlScene, levelRange, name)

    def landmarkSet(self, node: vtkMRMLMarkupsFiducialNode, argument: str = "landmarks") -> LandmarkSet:
        """The node's points as named RAS landmarks (None where not placed yet)."""
        return landmark_set_from_markups_node(node_of(node, argument, "points"))

    def placeNext(self, node: vtkMRMLMarkupsFiducialNode):
        """Turn on place mode for the first unplaced point of ``node``; its index, or None if all are placed."""
        return landmark_placement.start_placing_next(slicer.modules.markups.logic(), node_of(node, "node", "points"))

    def lockLandmarks(self, node: vtkMRMLMarkupsFiducialNode, labels, locked: bool = True) -> list:
        """Lock (reviewed) points by label; ValueError for labels the list lacks."""
        return landmark_placement.lock_points(node_of(node, "node", "points"), labels, locked)

    @staticmethod
    def _checkedNodes(fixedLandmarks, movingLandmarks, movingVolume, transformNode, fixedVolume) -> None:
        """Every node of a registration call of the right class, before anything changes."""
        node_of(fixedLandmarks, "fixedLandmarks", "points")
        node_of(movingLandmarks, "movingLandmarks", "points")
        node_of(movingVolume, "movingVolume", "volume", required=False)
        node_of(fixedVolume, "fixedVolume", "volume", required=False)
        node_of(transformNode, "transformNode", "transform", required=False)

    # registration ------------------------------------------------------------------------------
    def register(self, fixedLandmarks, movingLandmarks, mode: str = "rigid", movingVolume=None,
                 transformNode=None, fixedVolume=None, withLeaveOneOut: bool = True):
        """Register the moving point list onto the fixed one (matched by label); returns (transformNode, report).

        mode: "rigid", "similarity", "affine" or "piecewise". The result goes into ``transformNode``
        when its class fits (linear node for linear modes, grid node for piecewise), else into a new
        node. ``movingVolume``, if given, is placed under the transform (its voxels are not changed).
        ``fixedVolume`` sets the extent of a piecewise displacement grid. Each pair's residual is
        written into the point descriptions and :attr:`residualTableNode`. ``report`` is a
        QualityReport (rms_mm, residuals_mm, loo_mm, warnings, suggestions). Raises ValueError
        (LandmarkError) saying what to fix when the points cannot determine the transform.
        """
        self._checkedNodes(fixedLandmarks, movingLandmarks, movingVolume, transformNode, fixedVolume)
        from SpineLandmarkRegistrationLib.register import register

        registration = register(self.landmarkSet(fixedLandmarks, "fixedLandmarks"),
                                self.landmarkSet(movingLandmarks, "movingLandmarks"), mode, with_loo=withLeaveOneOut)
        domain = grid_from_volume_node(fixedVolume) if fixedVolume is not None else None
        node = transform_nodes.update_transform_node(slicer.mrmlScene, registration, transformNode, domain)
        self.residualTableNode = residual_table.write_residuals(registration, fixedLandmarks, movingLandmarks,
                                                    self.residualTableNode)
        if movingVolume is not None:
            movingVolume.SetAndObserveTransformNodeID(node.GetID())
        self.lastRegistration, self.lastTransformNode = registration, node
        logging.info("%s registration: RMS %.2f mm over %d pairs", mode, registration.report.rms_mm,
                     len(registration.report.matched))
        return node, registration.report

    def startLiveRegistration(self, fixedLandmarks, movingLandmarks, mode: str = "rigid", movingVolume=None,
                              transformNode=None, fixedVolume=None):
        """Recompute the transform and residuals on every point change; returns the LiveRegistration.

        ``movingVolume`` is shown under the transform while it runs. Too few points leave the
        previous transform in place; the reason is in ``live.error``. Stops a running one first.
        """
        self._checkedNodes(fixedLandmarks, movingLandmarks, movingVolume, transformNode, fixedVolume)
        self.stopLiveRegistration()
        domain = grid_from_volume_node(fixedVolume) if fixedVolume is not None else None
        live = live_registration.LiveRegistration(fixedLandmarks, movingLandmarks, mode, transformNode, self.residualTableNode,
                                   domain_grid=domain)
        if movingVolume is not None:
            live.set_preview_volume(movingVolume)
        live.updated.append(self._onLiveUpdated)
        self._onLiveUpdated(live)
        self.liveRegistration = live
        return live

    def _onLiveUpdated(self, live) -> None:
        self.residualTableNode = live.table_node
        if live.registration is not None:
            self.lastRegistration, self.lastTransformNode = live.registration, live.transform_node

    def stopLiveRegistration(self, removePreview: bool = False) -> None:
        """Stop following point changes (the transform stays; ``removePreview`` restores the volume's parent)."""
        if self.liveRegistration is None:
            return
        self.liveRegistration.stop()
        if removePreview:
            self.liveRegistration.remove_preview()
        self.liveRegistration = None

    def setPreview(self, movingVolume, transformNode, on: bool = True) -> None:
        """Show ``movingVolume`` under ``transformNode`` (on) or with no parent transform (off)."""
        if movingVolume is None:
            return
        live = self.liveRegistration
        if live is not None and on:
            live.set_preview_volume(movingVolume)
        elif live is not None:
            live.remove_preview()
        else:
            movingVolume.SetAndObserveTransformNodeID(transformNode.GetID() if (on and transformNode) else None)

    def startCheckerboard(self, fixedVolume, movingVolume, transformNode, squares: int = 8):
        """A new volume on the fixed grid: fixed and moving (through ``transformNode``) in alternating
        squares, each scaled 0..1000 by its 1st..99th percentile; it follows every change of the
        transform until :meth:`stopCheckerboard`. The inputs are only read."""
        from SpineLandmarkRegistrationLib.mrml.checkerboard_node import CheckerboardPreview

        self.stopCheckerboard()
        self.checkerboard = CheckerboardPreview(slicer.mrmlScene, fixedVolume, movingVolume, transformNode, squares)
        return self.checkerboard.node

    def stopCheckerboard(self) -> None:
        """Remove the checkerboard volume, if any."""
        if self.checkerboard is not None:
            self.checkerboard.stop()
            self.checkerboard = None

    def hardenCopy(self, movingVolume, transformNode, name: str = None):
        """A new volume with ``transformNode`` hardened into a copy of ``movingVolume`` (left unchanged)."""
        node_of(movingVolume, "movingVolume", "volume")
        node_of(transformNode, "transformNode", "transform")
        name = name or slicer.mrmlScene.GenerateUniqueName(f"{movingVolume.GetName()}_registered")
        return transform_nodes.harden_copy(slicer.mrmlScene, movingVolume, transformNode, name)

    def exportPair(self, fixedVolume, movingVolume, transformNode_or_registration, outDir: str, subject: str,
                   spacing: float = None, fixedLabels=None, movingLabels=None, fixedKey: str = "mr_t2w"):
        """Write a training pair with the core pair export: the fixed volume (``fixedKey``) and the
        moving one resampled through the transform ("ct_mrworld"), both cropped to their shared field
        of view (isotropic ``spacing`` mm if given), optional label volumes ("mr_seg",
        "ct_mrworld_seg", nearest neighbour), the ITK transform, and a row in ``outDir/manifest.csv``.

        ``transformNode_or_registration``: a transform node (moving placed under it lands on fixed)
        or a core Registration (its exact transform). Volumes are read as they are stored (their own
        parent transforms are not applied). Returns the written files by manifest column.
        """
        from SpineCoreLib.mrml.checks import volume_image
        from SpineCoreLib.validation import InputError, output_folder
        from SpineLandmarkRegistrationLib.pair_export import PairSpec, export_pair
        from SpineLandmarkRegistrationLib.register import Registration

        t = transformNode_or_registration
        if isinstance(t, Registration):
            transform, extra = t.transform, t.report.to_json()
        else:
            transform, extra = transform_nodes.core_transform_from_node(node_of(t, "transformNode_or_registration", "transform")), None
        if not str(subject).strip() or any(c in str(subject) for c in "/\\:"):
            raise InputError("subject", f"{subject!r} is no folder name: use letters, digits, '-' and '_'")
        if spacing is not None and not 0.1 <= spacing <= 10:
            raise InputError("spacing", f"{spacing} is outside 0.1..10 mm")
        output_folder(outDir, "outDir")
        fixed = {fixedKey: volume_image(fixedVolume, "fixedVolume")}
        moving = {"ct_mrworld": volume_image(movingVolume, "movingVolume")}
        if fixedLabels is not None:
            fixed["mr_seg"] = volume_image(fixedLabels, "fixedLabels", "labels")
        if movingLabels is not None:
            moving["ct_mrworld_seg"] = volume_image(movingLabels, "movingLabels", "labels")
        spec = PairSpec(fixed, moving, labels={"mr_seg", "ct_mrworld_seg"}, moving_default={"ct_mrworld": -1024.0})
        return export_pair(spec, transform, outDir, subject, spacing=spacing,
                           manifest=os.path.join(outDir, "manifest.csv"), extra=extra)


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
        self.setUp()
        self.test_register()

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

    def test_register(self) -> None:
        """A known rigid motion is recovered, and the moving points displayed under it land on the fixed ones."""
        import numpy as np

        self.delayDisplay("Registering named landmarks")
        logic = SpineLandmarkRegistrationLogic()
        fixed = logic.createLandmarkNode("L1-L3", "MR-landmarks")
        moving = logic.createLandmarkNode("L1-L3", "CT-landmarks")
        angle = np.deg2rad(10.0)
        rotation = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
        shift = np.array([5.0, -3.0, 12.0])
        for i in range(fixed.GetNumberOfControlPoints()):
            level, kind = i // 2, i % 2
            p = np.array([0.0, -40.0 * kind, -35.0 * level])
            fixed.SetNthControlPointPosition(i, *p)
            moving.SetNthControlPointPosition(i, *(rotation.T @ (p - shift)))
        node, report = logic.register(fixed, moving, "rigid")
        self.assertLess(report.rms_mm, 1e-6)
        self.assertEqual(len(report.matched), 6)
        moving.SetAndObserveTransformNodeID(node.GetID())
        for i in range(moving.GetNumberOfControlPoints()):
            np.testing.assert_allclose(moving.GetNthControlPointPositionWorld(i),
                                       fixed.GetNthControlPointPositionWorld(i), atol=1e-6)
        self.assertIn("residual 0.00 mm", fixed.GetNthControlPointDescription(0))
        moving.SetAndObserveTransformNodeID(None)

        moving.UnsetNthControlPointPosition(0)  # five pairs left: still enough
        node2, report2 = logic.register(fixed, moving, "similarity", transformNode=node)
        self.assertIs(node2, node)
        self.assertEqual(report2.unplaced, ["L1-body"])
        for i in range(1, 6):
            moving.UnsetNthControlPointPosition(i)
        with self.assertRaises(ValueError):
            logic.register(fixed, moving, "rigid")
        self.delayDisplay("Test passed")
