"""Checks on the nodes a Logic method is given, before it changes anything: the right node class, image
data present and of the expected kind (``SpineCoreLib.validation``; a volume's ``SpineMRtoCT.kind``
attribute says what it is where the voxels alone cannot). Each refusal is one
``InputError`` (a ValueError) naming the argument."""

from __future__ import annotations

from typing import Any

import SimpleITK as sitk

from ..validation import InputError, check_image
from .volumes import sitk_image_from_volume_node

KIND_ATTRIBUTE = "SpineMRtoCT.kind"  # ct or mr: set on the project's own result volumes, or by a user who knows
KINDS = {
    "points": ("vtkMRMLMarkupsFiducialNode", "a point list"),
    "volume": ("vtkMRMLScalarVolumeNode", "a scalar volume"),
    "transform": ("vtkMRMLTransformNode", "a transform"),
}


def node_of(node: Any, argument: str, kind: str, required: bool = True) -> Any:
    """``node`` when it is of ``kind`` (points, volume, transform); None allowed unless ``required``."""
    if node is None:
        if required:
            raise InputError(argument, f"select {KINDS[kind][1]}")
        return None
    cls, what = KINDS[kind]
    if not hasattr(node, "IsA") or not node.IsA(cls):
        name = node.GetName() if hasattr(node, "GetName") else repr(node)
        got = node.GetClassName() if hasattr(node, "GetClassName") else type(node).__name__
        raise InputError(argument, f"{name} is a {got}, not {what}")
    return node


def volume_image(node: Any, argument: str, kind: str = "image", required: bool = True) -> sitk.Image | None:
    """The checked image of a volume node (kinds of ``validation.check_image``: image, mr, ct, labels)."""
    node = node_of(node, argument, "volume", required)
    if node is None:
        return None
    if kind != "labels" and node.IsA("vtkMRMLLabelMapVolumeNode"):
        raise InputError(argument, f"{node.GetName()} is a label map: select the {kind.upper()} image instead")
    if node.GetImageData() is None:
        raise InputError(argument, f"{node.GetName()} has no image data")
    image = sitk_image_from_volume_node(node)
    declared = (node.GetAttribute(KIND_ATTRIBUTE) or "").lower() or None
    check_image(image, argument, kind, node.GetName(), declared if kind in ("ct", "mr") else None,
                f"the node attribute {KIND_ATTRIBUTE} =")
    return image
