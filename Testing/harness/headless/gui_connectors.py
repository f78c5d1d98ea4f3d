"""Which parameterNodeWrapper GUI connector Slicer 5.10 picks for a widget and a parameter type, and what
it refuses, so tests see a binding Slicer would reject before a user does.

Mirrors the selection rules of Slicer's ``Base/Python/slicer/parameterNodeWrapper/guiConnectors.py``
(Slicer 5.10): connectors are tried in registration order and the first whose ``canRepresent`` is true
is created; ``canRepresent`` compares the widget's exact class (``type(widget) == ...``, so a subclass
such as ``ctkComboBox`` never matches ``QComboBox``) and the type without its ``Annotated`` extras;
``create`` may still refuse (a ``QComboBox`` for str/int/float/bool without ``Choice``; a slider
without bounds). With no connector, ``connectGui`` raises ``RuntimeError``. Not mirrored: parameter
packs (``SlicerPackParameterName``) and the ``qMRMLSubjectHierarchyTreeView`` connector (neither is used
here); what each connector then does to the widget is left to Qt tests.
"""

from __future__ import annotations

import enum
import pathlib
import types
import typing
from typing import Any

PATHS = (pathlib.Path, pathlib.PosixPath, pathlib.WindowsPath, pathlib.PurePath, pathlib.PurePosixPath,
         pathlib.PureWindowsPath)


def split(datatype: Any) -> tuple[Any, tuple[Any, ...]]:
    """The type without ``Annotated`` and its annotations (Slicer's ``splitAnnotations``)."""
    if typing.get_origin(datatype) is typing.Annotated:
        base, *extras = typing.get_args(datatype)
        return base, tuple(extras)
    return datatype, ()


def _is_node_type(datatype: Any) -> bool:
    """A vtkMRMLNode subclass, or an Optional/Union of them (Slicer's ``isNodeOrUnionOfNodes``)."""
    import slicer

    union = typing.get_origin(datatype) in (typing.Union, types.UnionType)
    members = [a for a in typing.get_args(datatype) if a is not type(None)] if union else [datatype]
    return all(isinstance(m, type) and issubclass(m, slicer.vtkMRMLNode) for m in members)


def _find(extras: tuple[Any, ...], name: str) -> Any:
    return next((e for e in extras if type(e).__name__ == name), None)


def _bounded(extras: tuple[Any, ...]) -> bool:
    return _find(extras, "WithinRange") is not None or (
        _find(extras, "Minimum") is not None and _find(extras, "Maximum") is not None)


def connector_for(widget_class: str, datatype: Any) -> str:
    """The name of the connector Slicer 5.10 creates for a widget of class ``widget_class`` bound to a
    parameter of type ``datatype``; RuntimeError with Slicer's message when it creates none."""
    base, extras = split(datatype)
    if base is bool and widget_class == "QCheckBox":
        return "QCheckBoxToBoolConnector"
    if base is bool and widget_class == "QPushButton":
        return "QCheckablePushButtonToBoolConnector"
    if base is int and widget_class in ("QSlider", "QSpinBox"):
        if widget_class == "QSlider" and not _bounded(extras):
            raise RuntimeError("Cannot have a connection to ctkSliderWidget where the float types is unbounded.")
        return "QSliderOrSpinBoxToIntConnector"
    if base is float and widget_class in ("QDoubleSpinBox", "ctkSliderWidget"):
        if widget_class == "ctkSliderWidget" and not _bounded(extras):
            raise RuntimeError("Cannot have a connection to ctkSliderWidget where the float types is unbounded.")
        return "QDoubleSpinBoxCtkSliderWidgetToFloatConnector"
    if widget_class == "QComboBox" and base in (int, float, str, bool):
        if _find(extras, "Choice") is None:
            raise RuntimeError("ComboBoxToStringableConnector requires the Choice annotation to be used.")
        return "QComboBoxToStringableConnector"
    if widget_class == "QComboBox" and isinstance(base, type) and issubclass(base, enum.Enum):
        return "QComboBoxToEnumConnector"
    if base is str and widget_class == "QLineEdit":
        return "QLineEditToStrConnector"
    if base is str and widget_class == "QTextEdit":
        return "QTextEditPlainTextToStrConnector"
    if base in PATHS and widget_class == "ctkPathLineEdit":
        return "ctkPathLineEditToPathConnector"
    if base in PATHS and widget_class == "ctkDirectoryButton":
        return "ctkDirectoryButtonToPathConnector"
    if widget_class == "qMRMLNodeComboBox" and _is_node_type(base):
        return "qMRMLNodeComboBoxToNodeConnector"
    raise RuntimeError(f"Unable to create GUI connector from datatype '{datatype}' to widget type '{widget_class}'")


def node_combo_shows(node: Any, node_types: list[str], show_child_node_types: bool = True,
                     hide_child_node_types: list[str] | None = None) -> bool:
    """Whether a qMRMLNodeComboBox lists ``node`` (Slicer's qMRMLSortFilterProxyModel): its class is one
    of ``node_types``, or derives from one when ``showChildNodeTypes`` is on, and derives from none of
    ``hideChildNodeTypes``. A bound combo's ``node_types`` are the parameter's type, set by the connector."""
    if not any(node.IsA(t) for t in node_types):
        return False
    if not show_child_node_types and node.GetClassName() not in node_types:
        return False
    return not any(node.IsA(t) for t in hide_child_node_types or [])
