"""``connectGui``/``disconnectGui`` for the stand-in's parameter nodes, on real widgets.

As Slicer 5.10's parameterNodeWrapper: every widget of the GUI with a ``SlicerParameterName`` gets the
connector ``headless.gui_connectors.connector_for`` names (a refused binding raises RuntimeError, as
in Slicer); on connecting, the widgets show the parameter values (a Choice combo's items become the
choices, spin boxes and sliders take the WithinRange bounds, node selectors the parameter's node
type); after that a widget change writes the parameter and a parameter change updates the widget.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from typing import Any

import vtk
from headless.gui_connectors import connector_for, split
from PyQt5 import QtCore

from .pythonqt import PQ, unwrap

INT_RANGE = (-(2**31), 2**31 - 1)


@dataclass
class _Connector:
    widget: Any
    read: typing.Callable[[], Any]
    write: typing.Callable[[Any], None]
    signal: Any


def _bounds(extras: tuple[Any, ...], default: tuple[float, float]) -> tuple[float, float]:
    r = next((e for e in extras if hasattr(e, "minimum") and hasattr(e, "maximum")), None)
    return (r.minimum, r.maximum) if r is not None and r.maximum != float("inf") else default


def _choice_combo(w: Any, choices: list[Any]) -> _Connector:
    w.clear()
    w.addItems([str(c) for c in choices])
    return _Connector(w, lambda: choices[w.currentIndex()], lambda v: w.setCurrentIndex(choices.index(v)),
                      w.currentIndexChanged[int])


def make_connector(widget: Any, annotation: Any) -> _Connector:
    """The connector Slicer would create, with the same effect on the widget."""
    w = unwrap(widget)
    kind = connector_for(w.metaObject().className(), annotation)
    base, extras = split(annotation)
    if kind in ("QCheckBoxToBoolConnector", "QCheckablePushButtonToBoolConnector"):
        w.setCheckable(True)
        return _Connector(w, w.isChecked, w.setChecked, w.toggled)
    if kind == "QSliderOrSpinBoxToIntConnector":
        w.setRange(*(int(b) for b in _bounds(extras, INT_RANGE)))
        return _Connector(w, w.value, w.setValue, w.valueChanged[int])
    if kind == "QDoubleSpinBoxCtkSliderWidgetToFloatConnector":
        low, high = _bounds(extras, (float("-inf"), float("inf")))
        w.setProperty("minimum", low)
        w.setProperty("maximum", high)
        signal = w.valueChanged[float] if hasattr(w.valueChanged, "__getitem__") else w.valueChanged
        return _Connector(w, lambda: w.property("value"), lambda v: w.setProperty("value", float(v)), signal)
    if kind == "QComboBoxToStringableConnector":
        return _choice_combo(w, list(next(e for e in extras if type(e).__name__ == "Choice").choices))
    if kind == "QComboBoxToEnumConnector":
        members = list(base)
        w.clear()
        w.addItems([getattr(base, "label", lambda e: e.name)(m) for m in members])
        return _Connector(w, lambda: members[w.currentIndex()], lambda v: w.setCurrentIndex(members.index(v)),
                          w.currentIndexChanged[int])
    if kind == "QLineEditToStrConnector":
        return _Connector(w, w.text, w.setText, w.textChanged)
    if kind == "qMRMLNodeComboBoxToNodeConnector":
        args = typing.get_args(base) if typing.get_origin(base) in (typing.Union, types.UnionType) else (base,)
        w.setProperty("nodeTypes", [a.__name__ for a in args if a is not type(None)])
        return _Connector(w, w.currentNode, w.setCurrentNode, w.currentNodeChanged)
    raise RuntimeError(f"the harness has no {kind}")


def _bound_widgets(gui: Any) -> list[Any]:
    widgets = gui.qobject.findChildren(QtCore.QObject) if isinstance(gui, PQ) else [unwrap(v) for v in vars(gui).values()]
    return [w for w in widgets if isinstance(w, QtCore.QObject) and w.property("SlicerParameterName")]


class Binder:
    """The GUI binder the stand-in's ``connectGui`` calls once the harness is installed."""

    def connect(self, params: Any, gui: Any) -> Any:
        fields = type(params)._fields
        connectors: dict[str, _Connector] = {}
        for w in _bound_widgets(gui):
            name = w.property("SlicerParameterName")
            if name not in fields:
                raise ValueError(f"{w.objectName()} is bound to {name!r}, which {type(params).__name__} lacks")
            connectors[name] = make_connector(w, fields[name].annotation)
        state = {"updating": False}

        def to_gui(*_: Any) -> None:
            state["updating"] = True
            try:
                for name, c in connectors.items():
                    value = getattr(params, name)
                    if c.read() != value:
                        c.write(value)
            finally:
                state["updating"] = False

        def from_gui(name: str) -> None:
            if not state["updating"]:
                setattr(params, name, connectors[name].read())

        slots = {}
        for name, c in connectors.items():
            slots[name] = (lambda n: lambda *_: from_gui(n))(name)
            c.signal.connect(slots[name])
        observer = params.parameterNode.AddObserver(vtk.vtkCommand.ModifiedEvent, to_gui)
        to_gui()
        return connectors, slots, observer

    def disconnect(self, params: Any, tag: Any) -> None:
        connectors, slots, observer = tag
        params.parameterNode.RemoveObserver(observer)
        for name, c in connectors.items():
            c.signal.disconnect(slots[name])

