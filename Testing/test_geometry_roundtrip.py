"""The project's RAS/LPS geometry against real MRML and SimpleITK on an oblique, anisotropic volume.

If any of these fail, images would land in the wrong place or orientation when moved between
Slicer and the core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import SimpleITK as sitk

from SpineCoreLib.geometry import Grid, ras_to_lps

SPACING = (0.7, 1.1, 3.3)
ORIGIN_LPS = (12.5, -30.25, 47.0)
SIZE = (9, 7, 5)  # i, j, k


def _rotation(axis: np.ndarray, degrees: float) -> np.ndarray:
    """Rodrigues' rotation matrix about a unit axis."""
    a = axis / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    t = np.radians(degrees)
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k


@pytest.fixture(scope="module")
def oblique_image() -> sitk.Image:
    """Float image, rotated 20 degrees about the oblique axis (1, 2, 3), anisotropic, off-origin."""
    rng = np.random.default_rng(42)
    array = rng.normal(100.0, 30.0, size=SIZE[::-1]).astype(np.float32)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(SPACING)
    image.SetOrigin(ORIGIN_LPS)
    image.SetDirection(tuple(_rotation(np.array([1.0, 2.0, 3.0]), 20.0).ravel()))
    return image


def _ijk_to_ras(node: Any) -> np.ndarray:
    import vtk

    m = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(m)
    return np.array([[m.GetElement(r, c) for c in range(4)] for r in range(4)])


def _assert_same_grid(a: Grid, b: Grid, atol: float) -> None:
    assert a.size == b.size
    np.testing.assert_allclose(a.ijk_to_ras, b.ijk_to_ras, atol=atol)


def test_image_is_really_oblique(oblique_image: sitk.Image) -> None:
    d = np.array(oblique_image.GetDirection()).reshape(3, 3)
    assert np.all(np.abs(d) > 0.01), "every direction cosine should be non-zero"
    np.testing.assert_allclose(d @ d.T, np.eye(3), atol=1e-12)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd"])
def test_file_written_by_sitk_loads_into_mrml_at_the_same_place(
    mrml_scene: Any, oblique_image: sitk.Image, tmp_path: Path, suffix: str
) -> None:
    import slicer
    import slicer.util

    path = tmp_path / f"oblique{suffix}"
    sitk.WriteImage(oblique_image, str(path))
    node = slicer.modules.volumes.logic().AddArchetypeVolume(str(path), "oblique")
    assert node is not None and node.GetScene() is mrml_scene
    assert node.GetDisplayNode().GetColorNodeID(), "the Volumes logic found the Colors logic"

    from_file = sitk.ReadImage(str(path))
    np.testing.assert_allclose(_ijk_to_ras(node), Grid.from_image(from_file).ijk_to_ras, atol=1e-6)
    # NIfTI keeps geometry as float32, so the file differs from the in-memory image by ~1e-7 relative.
    np.testing.assert_allclose(_ijk_to_ras(node), Grid.from_image(oblique_image).ijk_to_ras, atol=1e-5)
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(node), sitk.GetArrayFromImage(oblique_image))


@pytest.mark.parametrize("suffix", [".nii.gz", ".nrrd"])
def test_volume_added_from_grid_and_saved_by_mrml_reads_back_in_sitk(
    mrml_scene: Any, oblique_image: sitk.Image, tmp_path: Path, suffix: str
) -> None:
    import slicer

    from SpineCoreLib.mrml.volumes import add_volume_node

    grid = Grid.from_image(oblique_image)
    array = sitk.GetArrayFromImage(oblique_image)
    node = add_volume_node(mrml_scene, array, grid, "from-grid")
    np.testing.assert_allclose(_ijk_to_ras(node), grid.ijk_to_ras, atol=1e-12)

    path = tmp_path / f"saved{suffix}"
    storage = slicer.vtkMRMLVolumeArchetypeStorageNode()
    mrml_scene.AddNode(storage)
    storage.SetFileName(str(path))
    assert storage.WriteData(node) == 1

    back = sitk.ReadImage(str(path))
    _assert_same_grid(Grid.from_image(back), grid, atol=1e-5 if suffix == ".nii.gz" else 1e-9)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(back), array)


def test_sitk_image_from_volume_node_keeps_lps_geometry(mrml_scene: Any, oblique_image: sitk.Image) -> None:
    from SpineCoreLib.mrml.volumes import (
        add_volume_node_from_image,
        sitk_image_from_volume_node,
    )

    node = add_volume_node_from_image(mrml_scene, oblique_image, "oblique")
    image = sitk_image_from_volume_node(node)
    np.testing.assert_allclose(image.GetOrigin(), oblique_image.GetOrigin(), atol=1e-9)
    np.testing.assert_allclose(image.GetSpacing(), oblique_image.GetSpacing(), atol=1e-9)
    np.testing.assert_allclose(image.GetDirection(), oblique_image.GetDirection(), atol=1e-9)
    np.testing.assert_array_equal(sitk.GetArrayFromImage(image), sitk.GetArrayFromImage(oblique_image))


def test_array_from_volume_node_is_a_copy(mrml_scene: Any, oblique_image: sitk.Image) -> None:
    import slicer.util

    from SpineCoreLib.mrml.volumes import add_volume_node_from_image, array_from_volume_node

    node = add_volume_node_from_image(mrml_scene, oblique_image, "oblique")
    array, grid = array_from_volume_node(node)
    array[:] = -1
    assert slicer.util.arrayFromVolume(node).max() > 0
    _assert_same_grid(grid, Grid.from_image(oblique_image), atol=1e-9)


def test_int64_labels_are_narrowed_and_rejected_when_too_wide(mrml_scene: Any, oblique_image: sitk.Image) -> None:
    import slicer.util

    from SpineCoreLib.mrml.volumes import add_volume_node

    grid = Grid.from_image(oblique_image)
    labels = np.zeros(grid.array_shape, dtype=np.int64)
    labels[1, 2, 3] = 24
    node = add_volume_node(mrml_scene, labels, grid, "labels", labelmap=True)
    assert node.IsA("vtkMRMLLabelMapVolumeNode")
    assert slicer.util.arrayFromVolume(node).dtype == np.int16
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(node), labels)
    assert labels.dtype == np.int64  # input untouched
    labels[0, 0, 0] = 2**40
    with pytest.raises(ValueError, match="int32"):
        add_volume_node(mrml_scene, labels, grid, "too-wide", labelmap=True)
    with pytest.raises(ValueError, match="shape"):
        add_volume_node(mrml_scene, labels[:-1], grid, "wrong-shape")


def test_ras_point_maps_to_the_index_itk_computes(mrml_scene: Any, oblique_image: sitk.Image) -> None:
    import vtk

    from SpineCoreLib.mrml.volumes import add_volume_node_from_image

    grid = Grid.from_image(oblique_image)
    point_ras = grid.index_to_ras(np.array([3.25, 1.5, 2.75])) + np.array([0.3, -0.2, 0.1])
    ours = grid.ras_to_index(point_ras)
    itk = oblique_image.TransformPhysicalPointToContinuousIndex(tuple(float(v) for v in ras_to_lps(point_ras)))
    np.testing.assert_allclose(ours, itk, atol=1e-9)

    node = add_volume_node_from_image(mrml_scene, oblique_image, "oblique")
    m = vtk.vtkMatrix4x4()
    node.GetRASToIJKMatrix(m)
    mrml = m.MultiplyPoint((*point_ras, 1.0))[:3]
    np.testing.assert_allclose(mrml, itk, atol=1e-9)


def test_crop_to_labels_keeps_each_voxel_where_it_was():
    from SpineCoreLib.resample import crop_to_labels

    image = sitk.GetImageFromArray(np.arange(6 * 7 * 8, dtype=np.int16).reshape(6, 7, 8))
    image.SetSpacing((0.5, 1.0, 2.0))
    image.SetOrigin((10.0, -5.0, 3.0))
    image.SetDirection((0, 0, 1, 1, 0, 0, 0, 1, 0))
    labels = sitk.Image(image.GetSize(), sitk.sitkUInt8)
    labels.CopyInformation(image)
    labels[3, 2, 4] = 1  # (i, j, k)
    labels[5, 4, 4] = 1
    crop = crop_to_labels(image, labels, margin=1)
    assert crop.GetSize() == (5, 5, 3)  # i 2..6, j 1..5, k 3..5
    assert crop.GetOrigin() == pytest.approx(image.TransformIndexToPhysicalPoint((2, 1, 3)))
    assert crop[1, 1, 1] == image[3, 2, 4] and crop.GetDirection() == image.GetDirection()
    with pytest.raises(ValueError, match="empty"):
        crop_to_labels(image, labels * 0)
