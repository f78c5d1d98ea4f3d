"""Every widget a .ui binds to the parameter node gets the connector Slicer 5.10 would create (the rules
of its guiConnectors.py, mirrored in ``headless.gui_connectors``), and node selectors list the nodes the
modules write."""

from __future__ import annotations

import enum
import importlib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Annotated, Any

import pytest
from headless.gui_connectors import connector_for, node_combo_shows

REPO = Path(__file__).resolve().parents[1]
MODULES = ("SpineLandmarkRegistration", "MRtoCTTranslation")


def _bound_widgets(name: str) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """parameter -> (widget class, widget name, the widget's other properties) for every bound widget."""
    root = ET.parse(REPO / name / "Resources" / "UI" / f"{name}.ui").getroot()
    out = {}
    for w in root.iter("widget"):
        props = {p.get("name"): p for p in w.findall("property")}
        if "SlicerParameterName" in props:
            values = {k: ([s.text for s in p.iter("string")] if p.find("stringlist") is not None else
                          (p.findtext("bool") == "true" if p.find("bool") is not None else p.findtext("string")))
                      for k, p in props.items()}
            out[props["SlicerParameterName"].findtext("string")] = (w.get("class"), w.get("name"), values)
    return out


def _parameter_types(slicer_standin: Any, name: str) -> dict[str, Any]:
    module = importlib.import_module(name)
    return dict(getattr(module, f"{name}ParameterNode").__annotations__)


def test_the_rules_refuse_what_slicer_refuses(slicer_standin):
    import slicer
    from slicer.parameterNodeWrapper import Choice, WithinRange

    class Kind(enum.Enum):
        a = "a"

    assert connector_for("QComboBox", Kind) == "QComboBoxToEnumConnector"
    assert connector_for("QComboBox", Annotated[str, Choice(["x", "y"])]) == "QComboBoxToStringableConnector"
    with pytest.raises(RuntimeError, match="requires the Choice annotation"):
        connector_for("QComboBox", str)  # the run-time-filled model combo as it was bound
    with pytest.raises(RuntimeError, match="Unable to create GUI connector"):
        connector_for("ctkComboBox", Kind)  # exact classes only
    with pytest.raises(RuntimeError, match="unbounded"):
        connector_for("ctkSliderWidget", float)
    assert connector_for("ctkSliderWidget", Annotated[float, WithinRange(0.0, 1.0)]).startswith("QDoubleSpinBox")
    assert connector_for("QSpinBox", int) == "QSliderOrSpinBoxToIntConnector"
    with pytest.raises(RuntimeError, match="Unable"):
        connector_for("QLineEdit", str | None)
    assert connector_for("qMRMLNodeComboBox", slicer.vtkMRMLScalarVolumeNode) == "qMRMLNodeComboBoxToNodeConnector"
    assert connector_for("qMRMLNodeComboBox", slicer.vtkMRMLTransformNode | None).startswith("qMRMLNode")


@pytest.mark.parametrize("name", MODULES)
def test_every_bound_widget_gets_a_connector_in_slicer(slicer_standin, name):
    types = _parameter_types(slicer_standin, name)
    bound = _bound_widgets(name)
    assert bound
    for parameter, (widget_class, widget, _) in bound.items():
        try:
            connector_for(widget_class, types[parameter])
        except RuntimeError as exc:
            pytest.fail(f"{name}.ui {widget} ({widget_class}) bound to {parameter}: Slicer raises {exc}")


def test_run_time_combos_are_not_bound(slicer_standin):
    """The model and target combos are filled when the panel is built (models found on this computer,
    targets of the chosen model): a bound QComboBox would have its items replaced by a fixed Choice."""
    bound = _bound_widgets("MRtoCTTranslation")
    assert {w for _, w, _ in bound.values()}.isdisjoint({"modelComboBox", "targetComboBox"})


def test_output_transform_selector_lists_the_transforms_registration_writes(slicer_standin, mrml_scene):
    types = _parameter_types(slicer_standin, "SpineLandmarkRegistration")
    _, _, props = _bound_widgets("SpineLandmarkRegistration")["outputTransform"]
    node_types = [types["outputTransform"].__name__]  # the connector replaces the .ui's nodeTypes
    for kind in ("vtkMRMLLinearTransformNode", "vtkMRMLGridTransformNode", "vtkMRMLTransformNode"):
        node = mrml_scene.AddNewNodeByClass(kind)
        assert node_combo_shows(node, node_types, props.get("showChildNodeTypes", True),
                                props.get("hideChildNodeTypes")), kind
    assert not node_combo_shows(mrml_scene.AddNewNodeByClass("vtkMRMLLinearTransformNode"), ["vtkMRMLTransformNode"],
                                show_child_node_types=False)  # what the .ui asked before
