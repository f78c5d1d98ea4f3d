"""Each landmark pair's residual in MRML: written into both point lists' descriptions and a table node
(label, residual_mm, loo_mm, status), with RMS, mode, warnings and errors as the table's attributes."""

from __future__ import annotations

import math
from typing import Any

import vtk

from SpineCoreLib.levels import LANDMARK_KINDS, parse_landmark_name
from SpineCoreLib.markups_io import LandmarkSet
from SpineCoreLib.mrml.markups import landmark_set_from_markups_node

from ..register import Registration
from .transform_nodes import ATTR

RESIDUAL_COLUMNS = ("label", "residual_mm", "loo_mm", "status")
STATUSES = ("matched", "only fixed", "only moving", "unplaced")
_DESCRIPTION_PREFIX = "residual "


# --- residuals ---------------------------------------------------------------------------------


def _statuses(fixed: LandmarkSet, moving: LandmarkSet) -> dict[str, str]:
    """Status of every label named in either list, fixed order first."""
    f, m = fixed.defined(), moving.defined()
    out: dict[str, str] = {}
    for label in fixed.labels() + moving.labels():
        if label in out:
            continue
        placed_f, placed_m = label in f, label in m
        out[label] = ("matched" if placed_m else "only fixed") if placed_f else (
            "only moving" if placed_m else "unplaced")
    return out


def _description(residual: float | None, loo: float | None) -> str:
    if residual is None:
        return ""
    text = f"{_DESCRIPTION_PREFIX}{residual:.2f} mm"
    if loo is not None and math.isfinite(loo):
        text += f", leave-one-out {loo:.2f} mm"
    return text


def _write_descriptions(node: Any, residuals: dict[str, float], loo: dict[str, float]) -> None:
    """Residual text into each point's description; stale residual text removed; others kept."""
    for i in range(node.GetNumberOfControlPoints()):
        label = node.GetNthControlPointLabel(i)
        old = node.GetNthControlPointDescription(i) or ""
        if label in residuals:
            new = _description(residuals[label], loo.get(label))
        elif old.startswith(_DESCRIPTION_PREFIX):
            new = ""
        else:
            continue
        if new != old:  # every change fires PointModifiedEvent: only touch what changes
            node.SetNthControlPointDescription(i, new)


def write_residuals(registration: Registration | None, fixed_markups: Any, moving_markups: Any,
                    table_node: Any = None, error: str | None = None) -> Any:
    """Residuals of ``registration`` into both point lists' descriptions and a table node.

    Table columns: label, residual_mm, loo_mm (NaN where not computed), status (matched / only
    fixed / only moving / unplaced); one row per label named in either list. Attributes
    ``SpineLandmarkRegistration.rms_mm``, ``.mode``, ``.warnings`` (one per line), ``.error``.
    ``registration`` may be None (e.g. too few points): then only statuses and ``error`` are written.
    """
    fixed = landmark_set_from_markups_node(fixed_markups)
    moving = landmark_set_from_markups_node(moving_markups)
    residuals = registration.report.residuals_mm if registration is not None else {}
    loo = registration.report.loo_mm if registration is not None else {}
    for node in (fixed_markups, moving_markups):
        _write_descriptions(node, residuals, loo)

    if table_node is None:
        scene = fixed_markups.GetScene()
        table_node = scene.AddNewNodeByClass("vtkMRMLTableNode", scene.GenerateUniqueName("registration residuals"))
    statuses = _statuses(fixed, moving)
    columns = (vtk.vtkStringArray(), vtk.vtkDoubleArray(), vtk.vtkDoubleArray(), vtk.vtkStringArray())
    for column, name in zip(columns, RESIDUAL_COLUMNS, strict=True):
        column.SetName(name)
    for label, status in statuses.items():
        columns[0].InsertNextValue(label)
        columns[1].InsertNextValue(residuals.get(label, math.nan))
        columns[2].InsertNextValue(loo.get(label, math.nan))
        columns[3].InsertNextValue(status)
    table = vtk.vtkTable()
    for column in columns:
        table.AddColumn(column)
    was_modifying = table_node.StartModify()
    table_node.SetAndObserveTable(table)
    for name, unit in (("residual_mm", "mm"), ("loo_mm", "mm")):
        table_node.SetColumnUnitLabel(name, unit)
    report = registration.report if registration is not None else None
    table_node.SetAttribute(ATTR + "rms_mm", f"{report.rms_mm:.6g}" if report else "")
    table_node.SetAttribute(ATTR + "mode", report.mode if report else "")
    table_node.SetAttribute(ATTR + "warnings", "\n".join(report.warnings) if report else "")
    table_node.SetAttribute(ATTR + "error", error or "")
    table_node.EndModify(was_modifying)
    return table_node


def read_residual_table(table_node: Any) -> list[dict[str, Any]]:
    """Rows of a table written by :func:`write_residuals` as dicts (floats NaN where empty)."""
    table = table_node.GetTable()
    cols = {table.GetColumnName(c): table.GetColumn(c) for c in range(table.GetNumberOfColumns())}
    rows = []
    for r in range(table.GetNumberOfRows()):
        rows.append({
            "label": cols["label"].GetValue(r),
            "residual_mm": float(cols["residual_mm"].GetValue(r)),
            "loo_mm": float(cols["loo_mm"].GetValue(r)),
            "status": cols["status"].GetValue(r),
        })
    return rows


def level_status(table_node: Any) -> list[tuple[str, dict[str, tuple[str, str, str]]]]:
    """Per level, per kind (body, spinous): (fixed, moving, residual) texts for a status grid.

    Fixed/moving read "placed" or "missing"; residual "1.23 mm" for matched pairs, else "".
    Labels that are not level landmarks are left out. Levels keep the table's order.
    """
    out: dict[str, dict[str, tuple[str, str, str]]] = {}
    for row in read_residual_table(table_node):
        try:
            level, kind = parse_landmark_name(row["label"])
        except ValueError:
            continue
        if kind not in LANDMARK_KINDS:
            continue
        status = row["status"]
        fixed = "placed" if status in ("matched", "only fixed") else "missing"
        moving = "placed" if status in ("matched", "only moving") else "missing"
        res = row["residual_mm"]
        residual = f"{res:.2f} mm" if math.isfinite(res) else ""
        out.setdefault(level, {k: ("missing", "missing", "") for k in LANDMARK_KINDS})[kind] = (fixed, moving, residual)
    return list(out.items())
