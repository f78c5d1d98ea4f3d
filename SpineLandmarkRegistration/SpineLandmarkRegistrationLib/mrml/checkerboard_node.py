"""A live checkerboard preview in the scene: fixed and registered moving volumes alternating in squares
on the fixed grid, recomputed whenever the transform changes (each point placed or moved, with
auto-update on). Inputs are only read; the preview is one new volume node, removed by ``stop``."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import SimpleITK as sitk
import slicer

from SpineCoreLib.mrml.volumes import array_from_volume_node, sitk_image_from_volume_node
from SpineCoreLib.resample import resample, valid_mask

from ..checkerboard import checkerboard, normalised, square_size
from .transform_nodes import core_transform_from_node

log = logging.getLogger(__name__)


class CheckerboardPreview:
    """``node`` shows ``fixed`` and ``moving`` (through ``transform``) in alternating squares."""

    def __init__(self, scene: Any, fixed: Any, moving: Any, transform: Any, squares: int = 8) -> None:
        if fixed is None or moving is None:
            raise ValueError("a checkerboard needs both the fixed and the moving volume")
        if transform is None:
            raise ValueError("register first: the checkerboard shows the moving volume through the output transform")
        self.scene, self.fixed, self.moving, self.squares = scene, fixed, moving, squares
        self._fixed_values, self._grid = array_from_volume_node(fixed)
        self._moving_image = sitk_image_from_volume_node(moving)
        self.transform, self._observer = None, None
        self.node = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", scene.GenerateUniqueName(
            f"{fixed.GetName()}_checkerboard"))
        self.set_transform(transform)

    def set_transform(self, transform: Any) -> None:
        """Follow ``transform`` (the live registration may replace a linear node by a grid one)."""
        if self.transform is not None and self._observer is not None:
            self.transform.RemoveObserver(self._observer)
        self.transform = transform
        self._observer = transform.AddObserver(slicer.vtkMRMLTransformableNode.TransformModifiedEvent,
                                               lambda *args: self.update())
        self.update()

    def update(self) -> None:
        sitk_transform = core_transform_from_node(self.transform).to_sitk(self._grid)
        moved = resample(self._moving_image, self._grid, sitk_transform, "linear")
        moving_values = sitk.GetArrayFromImage(moved)
        inside = valid_mask(self._moving_image, self._grid, sitk_transform)
        board = checkerboard(normalised(self._fixed_values), np.where(inside, normalised(moving_values, inside), 0.0),
                             square_size(self._fixed_values.shape, self.squares))
        slicer.util.updateVolumeFromArray(self.node, (board * 1000.0).astype(np.float32))
        self.node.CopyOrientation(self.fixed)
        self.node.Modified()

    def stop(self) -> None:
        """Stop following the transform and remove the preview volume."""
        if self._observer is not None:
            self.transform.RemoveObserver(self._observer)
            self._observer = None
        if self.node is not None and self.scene.IsNodePresent(self.node):
            self.scene.RemoveNode(self.node)
        self.node = None
