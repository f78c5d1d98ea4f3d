"""Install the harness over the headless stand-in; ``uninstall`` puts the stand-in's inert Qt back."""

from __future__ import annotations

import io
import os
import sys
import types
import xml.etree.ElementTree as ET
from typing import Any

from headless import slicer_standin
from PyQt5 import QtCore, QtWidgets, uic
from PyQt5.QtCore import pyqtProperty

from .binding import Binder
from .pythonqt import PQ, qt_module, unwrap
from .widgets import CLASSES


class ModulePanel(QtWidgets.QWidget):
    """What Slicer gives a module widget as ``parent``: a widget with a vertical layout and ``isEntered``."""

    def __init__(self) -> None:
        super().__init__()
        self._entered = False
        QtWidgets.QVBoxLayout(self)

    isEntered = pyqtProperty(bool, lambda self: self._entered, lambda self, v: setattr(self, "_entered", bool(v)))


class ScriptedLoadableModuleWidget:
    """Slicer's base of module widgets, as far as the panels use it."""

    def __init__(self, parent: Any = None) -> None:
        self.parent = PQ(unwrap(parent) if parent is not None else ModulePanel())
        self.moduleName = type(self).__name__.removesuffix("Widget")
        self.developerMode = False

    def resourcePath(self, filename: str) -> str:
        return os.path.join(os.path.dirname(sys.modules[type(self).__module__].__file__), "Resources", filename)

    def setup(self) -> None:
        self.layout = self.parent.layout()

    def cleanup(self) -> None:
        pass


def load_ui(path: str) -> PQ:
    """``slicer.util.loadUI``: the .ui's widgets with the stand-in qMRML/CTK classes; the .ui's signal to
    slot connections made by name (uic cannot index signals by C++ types such as ``vtkMRMLScene*``)."""
    root = ET.parse(path).getroot()
    for custom in root.iter("customwidget"):
        if custom.findtext("class") not in CLASSES:
            raise NotImplementedError(f"{path}: no stand-in for {custom.findtext('class')}")
        custom.find("header").text = "qt_harness/widgets.h"
    connections = root.find("connections")
    pairs = []
    if connections is not None:
        root.remove(connections)
        pairs = [(c.findtext("sender"), c.findtext("signal").split("(")[0], c.findtext("receiver"),
                  c.findtext("slot").split("(")[0]) for c in connections.iter("connection")]
    top = uic.loadUi(io.StringIO(ET.tostring(root, encoding="unicode")))

    def named(name: str) -> QtCore.QObject:
        found = top if top.objectName() == name else top.findChild(QtCore.QObject, name)
        if found is None:
            raise ValueError(f"{path}: a connection names {name!r}, which the .ui lacks")
        return found

    for sender, signal, receiver, slot in pairs:
        getattr(named(sender), signal).connect(getattr(named(receiver), slot))
    return PQ(top)


def child_widget_variables(widget: Any) -> types.SimpleNamespace:
    """``slicer.util.childWidgetVariables``: every named child, wrapped."""
    ns = types.SimpleNamespace()
    for child in unwrap(widget).findChildren(QtCore.QObject):
        if child.objectName():
            setattr(ns, child.objectName(), PQ(child))
    return ns


def set_slice_viewer_layers(background: Any = None, foreground: Any = None, label: Any = None,
                            foregroundOpacity: float | None = None, labelOpacity: float | None = None,
                            fit: bool = False, rotateToVolumePlane: bool = False) -> None:
    """``slicer.util.setSliceViewerLayers`` on the scene's slice composite nodes (there are no views)."""
    import slicer

    scene = slicer.mrmlScene
    for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceCompositeNode")):
        c = scene.GetNthNodeByClass(i, "vtkMRMLSliceCompositeNode")
        if background is not None:
            c.SetBackgroundVolumeID(background.GetID())
        if foreground is not None:
            c.SetForegroundVolumeID(foreground.GetID())
        if label is not None:
            c.SetLabelVolumeID(label.GetID())
        if foregroundOpacity is not None:
            c.SetForegroundOpacity(foregroundOpacity)


_saved: dict[str, Any] = {}
_app: list[QtWidgets.QApplication] = []  # held here: a QApplication nobody references is destroyed


def install() -> QtWidgets.QApplication:
    """Real Qt for the panels (offscreen); idempotent."""
    import slicer
    import slicer.util

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(["SpineMRtoCT-tests"])
    _app[:] = [app]
    slicer_standin.install()
    if not _saved:
        _saved.update(qt=sys.modules.get("qt"), widget=slicer.ScriptedLoadableModule.ScriptedLoadableModuleWidget,
                      util={n: getattr(slicer.util, n, None) for n in ("loadUI", "childWidgetVariables",
                                                                        "setSliceViewerLayers")})
    sys.modules["qt"] = qt_module()
    slicer.ScriptedLoadableModule.ScriptedLoadableModuleWidget = ScriptedLoadableModuleWidget
    slicer.util.loadUI = load_ui
    slicer.util.childWidgetVariables = child_widget_variables
    slicer.util.setSliceViewerLayers = set_slice_viewer_layers
    slicer_standin.GUI_BINDER = Binder()
    return app


def uninstall() -> None:
    import slicer
    import slicer.util

    if not _saved:
        return
    sys.modules["qt"] = _saved["qt"]
    slicer.ScriptedLoadableModule.ScriptedLoadableModuleWidget = _saved["widget"]
    for name, fn in _saved["util"].items():
        if fn is None:
            if hasattr(slicer.util, name):
                delattr(slicer.util, name)
        else:
            setattr(slicer.util, name, fn)
    slicer_standin.GUI_BINDER = None
    _saved.clear()
