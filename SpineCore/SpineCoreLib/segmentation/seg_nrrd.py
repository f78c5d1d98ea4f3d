"""Vertebra labels as a 3D Slicer segmentation file (``.seg.nrrd``), written without Slicer.

The file is a NRRD label image plus Slicer's segmentation fields (``Segment<i>_ID/_Name/_Color/
_LabelValue/_Layer/_Extent/_Tags``, ``Segmentation_*``) as ``key:=value`` lines, which
vtkMRMLSegmentationStorageNode reads back into one named, coloured segment per level with its
standard terminology (``terminology``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.atomic_io import write_image

from .table import segment_table
from .terminology import terminology_entry


def segmentation_image(labels: sitk.Image) -> sitk.Image:
    """``labels`` (VerSe IDs) with the fields of a Slicer segmentation, one segment per level present."""
    values = sitk.GetArrayViewFromImage(labels)
    present = [int(v) for v in np.unique(values) if v != 0]
    if not present:
        raise ValueError("no vertebra label to write: the label image is empty")
    table = segment_table()
    unknown = [v for v in present if v not in table]
    if unknown:
        raise ValueError(f"label values {unknown} are no vertebra IDs (VerSe: C1-C7 = 1-7, T1-T12 = 8-19, "
                         "L1-L5 = 20-24, L6 = 25, S1 = 26, T13 = 28)")
    out = sitk.Cast(labels, sitk.sitkUInt8 if max(present) < 256 else sitk.sitkUInt16)
    for i, value in enumerate(present):
        level, colour = table[value]
        k, j, ii = np.nonzero(values == value)
        fields = {"ID": level, "Name": level, "Color": " ".join(f"{c:g}" for c in colour), "LabelValue": str(value),
                  "Layer": "0", "Extent": f"{ii.min()} {ii.max()} {j.min()} {j.max()} {k.min()} {k.max()}",
                  "Tags": f"TerminologyEntry:{terminology_entry(level)}|"}
        for key, text in fields.items():
            out.SetMetaData(f"Segment{i}_{key}", text)
    out.SetMetaData("Segmentation_MasterRepresentation", "Binary labelmap")
    out.SetMetaData("Segmentation_ContainedRepresentationNames", "Binary labelmap|")
    out.SetMetaData("Segmentation_ReferenceImageExtentOffset", "0 0 0")
    return out


def write_labels(labels: sitk.Image, path: str | os.PathLike) -> Path:
    """Write vertebra labels atomically: a Slicer segmentation for ``.seg.nrrd``, else a label image."""
    if str(path).lower().endswith(".seg.nrrd"):
        return write_image(segmentation_image(labels), path)
    return write_image(labels, path)
