"""Result nodes of a translation: segmentation from a label image, metrics table, subject-hierarchy
placement and slice-view set-up.

Only MRML classes and module logics that PyPI's slicer-core also provides are used (no
``slicer.app``, ``qt`` or ``ctk``), so this runs under pytest against real MRML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import SimpleITK as sitk
import slicer
import vtk

from SpineCoreLib.levels import ID_LEVELS
from SpineCoreLib.mrml.checks import KIND_ATTRIBUTE
from SpineCoreLib.mrml.volumes import add_volume_node_from_image
from SpineCoreLib.segmentation.terminology import terminology_entry

# CT window/level for bone and soft tissue together (W 1800 HU, L 400 HU)
CT_WINDOW, CT_LEVEL = 1800.0, 400.0


def add_ct_volume(scene: Any, image: sitk.Image, name: str) -> Any:
    """A scalar volume in HU with a bone window (not the auto window, which the air dominates)."""
    node = add_volume_node_from_image(scene, image, name)
    node.SetAttribute(KIND_ATTRIBUTE, "ct")  # the next step reads it as a CT, air in view or not
    display = node.GetDisplayNode()
    if display is not None:
        display.SetAutoWindowLevel(False)
        display.SetWindowLevel(CT_WINDOW, CT_LEVEL)
    return node


def add_segmentation_from_labels(scene: Any, labels: sitk.Image, segments: Mapping[int, tuple[str, Sequence[float]]],
                                 name: str) -> Any:
    """A segmentation node with one named, coloured segment per label value present in ``labels``.

    ``segments`` maps label values to (name, RGB in 0..1); values it lacks are named ``label <v>``.
    The label image is imported through a temporary labelmap node that is removed again.
    """
    values = [int(v) for v in np.unique(sitk.GetArrayViewFromImage(labels)) if v != 0]
    if not values:
        raise ValueError("the segmentation is empty: no vertebra was found in the synthetic CT")
    tmp = add_volume_node_from_image(scene, sitk.Cast(labels, sitk.sitkUInt16), scene.GenerateUniqueName("tmp"),
                                     labelmap=True)
    try:
        node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
        node.CreateDefaultDisplayNodes()
        node.SetReferenceImageGeometryParameterFromVolumeNode(tmp)
        if not slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(tmp, node):
            scene.RemoveNode(node)
            raise RuntimeError("importing the vertebra labels into a segmentation node failed")
    finally:
        scene.RemoveNode(tmp)
    seg = node.GetSegmentation()
    for i in range(seg.GetNumberOfSegments()):
        segment = seg.GetNthSegment(i)
        value = int(segment.GetLabelValue())
        seg_name, colour = segments.get(value, (f"label {value}", (0.9, 0.9, 0.2)))
        segment.SetName(seg_name)
        segment.SetColor(*[float(c) for c in colour[:3]])
        if value in ID_LEVELS:  # the standard code of the vertebra, as Slicer's terminology selector stores it
            segment.SetTag(slicer.vtkSegment.GetTerminologyEntryTagName(), terminology_entry(ID_LEVELS[value]))
    display = node.GetDisplayNode()
    if display is not None:  # outlines over the MR, as the module shows them
        display.SetVisibility2DFill(False)
        display.SetVisibility2DOutline(True)
    return node


def segment_label_values(node: Any) -> dict[str, int]:
    """Segment name -> label value of a segmentation node (for tests and exports)."""
    seg = node.GetSegmentation()
    return {seg.GetNthSegment(i).GetName(): int(seg.GetNthSegment(i).GetLabelValue())
            for i in range(seg.GetNumberOfSegments())}


def add_table(scene: Any, rows: Sequence[Mapping[str, Any]], name: str) -> Any:
    """A table node with one column per key of the rows (numbers as double columns, others as text)."""
    node = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    table = node.GetTable()
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    for key in keys:
        numeric = all(isinstance(r.get(key), (int, float, np.floating, np.integer)) and not isinstance(r.get(key), bool)
                      for r in rows if key in r)
        col = vtk.vtkDoubleArray() if numeric else vtk.vtkStringArray()
        col.SetName(key)
        for row in rows:
            v = row.get(key)
            if numeric:
                col.InsertNextValue(float("nan") if v is None else float(v))
            else:
                col.InsertNextValue("" if v is None else str(v))
        table.AddColumn(col)
    node.Modified()
    return node


def read_table(node: Any) -> list[dict[str, Any]]:
    """The rows of a table node as dictionaries (the inverse of :func:`add_table`)."""
    table = node.GetTable()
    cols = [table.GetColumn(c) for c in range(table.GetNumberOfColumns())]
    rows = []
    for r in range(table.GetNumberOfRows()):
        rows.append({c.GetName(): (c.GetValue(r) if isinstance(c, vtk.vtkStringArray) else float(c.GetValue(r)))
                     for c in cols})
    return rows


def place_in_study_of(scene: Any, reference_node: Any, nodes: Iterable[Any]) -> None:
    """Put ``nodes`` under the subject-hierarchy parent (the study) of ``reference_node``."""
    sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(scene)
    if sh is None:
        return
    parent = sh.GetItemParent(sh.GetItemByDataNode(reference_node)) if sh.GetItemByDataNode(reference_node) else 0
    parent = parent or sh.GetSceneItemID()
    for node in nodes:
        item = sh.GetItemByDataNode(node)
        if item:
            sh.SetItemParent(item, parent)
        else:
            sh.CreateItem(parent, node)


def show_in_slice_views(scene: Any, background: Any, foreground: Any | None, opacity: float = 0.5,
                        labels: Any | None = None) -> int:
    """MR as background and synthetic CT as foreground (with ``opacity``) in every slice view.

    Returns the number of slice views set (none in a scene without views, as headless).
    """
    n = scene.GetNumberOfNodesByClass("vtkMRMLSliceCompositeNode")
    for i in range(n):  # GetNthNodeByClass: GetNodesByClass would hand back a collection to release
        c = scene.GetNthNodeByClass(i, "vtkMRMLSliceCompositeNode")
        c.SetBackgroundVolumeID(background.GetID())
        c.SetForegroundVolumeID(foreground.GetID() if foreground is not None else None)
        c.SetForegroundOpacity(opacity)
        if labels is not None:
            c.SetLabelVolumeID(labels.GetID())
    return n
