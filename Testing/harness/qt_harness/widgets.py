"""Stand-ins for the qMRML and CTK widget classes the panels' .ui files use, on PyQt5 widgets.

Each keeps the Qt properties, signals and slots that the .ui files, the modules and Slicer's connectors
use, under the same names; anything else is absent, so a panel that starts using more fails here first.
"""

from __future__ import annotations

from typing import Any

from headless.gui_connectors import node_combo_shows
from PyQt5 import QtWidgets
from PyQt5.QtCore import pyqtProperty, pyqtSignal, pyqtSlot


class qMRMLWidget(QtWidgets.QWidget):
    """The panel's top widget: ``setMRMLScene`` emits ``mrmlSceneChanged``, which the .ui connects to
    each node selector's ``setMRMLScene``."""

    mrmlSceneChanged = pyqtSignal(object)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._scene = None

    @pyqtSlot(object)
    def setMRMLScene(self, scene: Any) -> None:
        self._scene = scene
        self.mrmlSceneChanged.emit(scene)

    def mrmlScene(self) -> Any:
        return self._scene


class qMRMLNodeComboBox(QtWidgets.QComboBox):
    """A node selector: lists the scene's nodes that qMRMLSortFilterProxyModel would let through, follows
    nodes being added and removed, and reports ``currentNodeChanged(vtkMRMLNode*)``."""

    currentNodeChanged = pyqtSignal(object)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._scene, self._observers, self._nodes = None, [], []
        self._types: list[str] = []
        self._hide: list[str] = []
        self._show_child, self._none = True, False
        self._flags = {"addEnabled": False, "removeEnabled": False, "renameEnabled": False}
        self.currentIndexChanged[int].connect(lambda i: self.currentNodeChanged.emit(self.currentNode()))

    # properties the .ui files set
    def getNodeTypes(self) -> list[str]:
        return list(self._types)

    def setNodeTypes(self, types: list[str]) -> None:
        self._types = [str(t) for t in types]
        self._refresh()

    nodeTypes = pyqtProperty("QStringList", getNodeTypes, setNodeTypes)

    def getShowChildNodeTypes(self) -> bool:
        return self._show_child

    def setShowChildNodeTypes(self, on: bool) -> None:
        self._show_child = bool(on)
        self._refresh()

    showChildNodeTypes = pyqtProperty(bool, getShowChildNodeTypes, setShowChildNodeTypes)

    def getHideChildNodeTypes(self) -> list[str]:
        return list(self._hide)

    def setHideChildNodeTypes(self, types: list[str]) -> None:
        self._hide = [str(t) for t in types]
        self._refresh()

    hideChildNodeTypes = pyqtProperty("QStringList", getHideChildNodeTypes, setHideChildNodeTypes)

    def getNoneEnabled(self) -> bool:
        return self._none

    def setNoneEnabled(self, on: bool) -> None:
        self._none = bool(on)
        self._refresh()

    noneEnabled = pyqtProperty(bool, getNoneEnabled, setNoneEnabled)

    def setAddEnabled(self, on: bool) -> None:
        self._flags["addEnabled"] = bool(on)

    def setRemoveEnabled(self, on: bool) -> None:
        self._flags["removeEnabled"] = bool(on)

    def setRenameEnabled(self, on: bool) -> None:
        self._flags["renameEnabled"] = bool(on)

    addEnabled = pyqtProperty(bool, lambda self: self._flags["addEnabled"], setAddEnabled)
    removeEnabled = pyqtProperty(bool, lambda self: self._flags["removeEnabled"], setRemoveEnabled)
    renameEnabled = pyqtProperty(bool, lambda self: self._flags["renameEnabled"], setRenameEnabled)

    # scene and nodes
    @pyqtSlot(object)
    def setMRMLScene(self, scene: Any) -> None:
        for obs in self._observers:
            self._scene.RemoveObserver(obs)
        self._scene, self._observers = scene, []
        if scene is not None:
            for event in (scene.NodeAddedEvent, scene.NodeRemovedEvent):
                self._observers.append(scene.AddObserver(event, lambda *a: self._refresh()))
        self._refresh()

    def mrmlScene(self) -> Any:
        return self._scene

    def nodes(self) -> list[Any]:
        """The nodes the selector lists, in scene order."""
        if self._scene is None or not self._types:
            return []
        found = [self._scene.GetNthNode(i) for i in range(self._scene.GetNumberOfNodes())]
        return [n for n in found if node_combo_shows(n, self._types, self._show_child, self._hide)]

    def currentNode(self) -> Any:
        i = self.currentIndex()
        return self._nodes[i] if 0 <= i < len(self._nodes) else None

    @pyqtSlot(object)
    def setCurrentNode(self, node: Any) -> None:
        self._refresh()
        index = next((i for i, n in enumerate(self._nodes) if n is node), -1 if node is not None else None)
        if index == -1:
            raise ValueError(f"{node.GetName()} ({node.GetClassName()}) is not listed by {self.objectName()}")
        if index is None:
            index = 0 if self._none else -1
        self.setCurrentIndex(index)

    def _refresh(self) -> None:
        current = self.currentNode()
        nodes = ([None] if self._none else []) + self.nodes()
        if [id(n) for n in nodes] == [id(n) for n in self._nodes]:
            return
        self.blockSignals(True)
        self._nodes = nodes
        self.clear()
        self.addItems(["None" if n is None else n.GetName() for n in nodes])
        keep = next((i for i, n in enumerate(nodes) if n is current), None)
        self.setCurrentIndex(keep if keep is not None else (0 if nodes else -1))
        self.blockSignals(False)
        if self.currentNode() is not current:
            self.currentNodeChanged.emit(self.currentNode())


class ctkSliderWidget(QtWidgets.QWidget):
    """A slider with a spin box: double ``value`` within ``minimum``..``maximum``, ``valueChanged(double)``."""

    valueChanged = pyqtSignal(float)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._value, self._min, self._max, self._step, self._decimals = 0.0, 0.0, 99.0, 1.0, 2

    def getValue(self) -> float:
        return self._value

    @pyqtSlot(float)
    def setValue(self, value: float) -> None:
        value = min(max(float(value), self._min), self._max)
        if value != self._value:
            self._value = value
            self.valueChanged.emit(value)

    value = pyqtProperty(float, getValue, setValue)

    def setMinimum(self, v: float) -> None:
        self._min = float(v)
        self.setValue(self._value)

    def setMaximum(self, v: float) -> None:
        self._max = float(v)
        self.setValue(self._value)

    def setSingleStep(self, v: float) -> None:
        self._step = float(v)

    def setDecimals(self, v: int) -> None:
        self._decimals = int(v)

    minimum = pyqtProperty(float, lambda self: self._min, setMinimum)
    maximum = pyqtProperty(float, lambda self: self._max, setMaximum)
    singleStep = pyqtProperty(float, lambda self: self._step, setSingleStep)
    decimals = pyqtProperty(int, lambda self: self._decimals, setDecimals)


class ctkPathLineEdit(QtWidgets.QLineEdit):
    """A path field: ``currentPath`` (the text) and ``currentPathChanged(QString)``; ``filters`` is kept."""

    currentPathChanged = pyqtSignal(str)
    Dirs, Files, Drives, NoDot, NoDotDot, Readable, Writable, Executable = 1, 2, 4, 8, 16, 32, 64, 128

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._filters = 0
        self.textChanged.connect(self.currentPathChanged.emit)

    def setCurrentPath(self, path: str) -> None:
        self.setText(str(path))

    def setFilters(self, filters: int) -> None:
        self._filters = int(filters)

    currentPath = pyqtProperty(str, lambda self: self.text(), setCurrentPath)
    filters = pyqtProperty(int, lambda self: self._filters, setFilters)


class ctkCollapsibleButton(QtWidgets.QWidget):
    """A titled section that can collapse: ``text`` and ``collapsed``."""

    contentsCollapsed = pyqtSignal(bool)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._text, self._collapsed = "", False

    def setText(self, text: str) -> None:
        self._text = str(text)

    text = pyqtProperty(str, lambda self: self._text, setText)

    def getCollapsed(self) -> bool:
        return self._collapsed

    def setCollapsed(self, on: bool) -> None:
        self._collapsed = bool(on)
        self.contentsCollapsed.emit(self._collapsed)

    collapsed = pyqtProperty(bool, getCollapsed, setCollapsed)


CLASSES = {c.__name__: c for c in (qMRMLWidget, qMRMLNodeComboBox, ctkSliderWidget, ctkPathLineEdit,
                                   ctkCollapsibleButton)}
