"""A phantom case loaded into real MRML: every landmark, converted by the node's own RAS-to-IJK
matrix, falls in its vertebra's label, for both worlds (the file -> SimpleITK -> MRML chain)."""

from __future__ import annotations

import numpy as np
import pytest
import vtk

from SpineCoreLib.levels import LEVEL_IDS
from SpineCoreLib.mrml.case_nodes import load_case_nodes
from SpineCoreLib.phantom import PhantomOptions, generate_case


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("mrmlcase")
    opts = PhantomOptions(levels=["L2", "L3", "L4"], ct_spacing=2.0, mr_spacing=(1.0, 1.0, 3.0))
    generate_case(out, "sub-m", 21, opts)
    return out / "sub-m"


def _label(node, ras) -> int:
    import slicer.util

    m = vtk.vtkMatrix4x4()
    node.GetRASToIJKMatrix(m)
    ijk = np.rint(np.array(m.MultiplyPoint([*ras, 1.0]))[:3]).astype(int)
    return int(slicer.util.arrayFromVolume(node)[ijk[2], ijk[1], ijk[0]])


def test_landmarks_inside_labels_through_mrml(mrml_scene, case_dir):
    nodes = load_case_nodes(mrml_scene, case_dir)
    assert {"ct", "ct_seg", "mr_t2w", "mr_seg", "ct_landmarks", "mr_landmarks"} <= set(nodes)
    for world, seg_key in (("ct", "ct_seg"), ("mr", "mr_seg"), ("mr", "ct_mrworld_seg")):
        points = nodes[f"{world}_landmarks"]
        assert points.GetNumberOfControlPoints() == 6
        for i in range(points.GetNumberOfControlPoints()):
            label = points.GetNthControlPointLabel(i)
            ras = points.GetNthControlPointPositionWorld(i)
            assert _label(nodes[seg_key], ras) == LEVEL_IDS[label.split("-")[0]], (seg_key, label)


def test_loading_leaves_files_untouched(mrml_scene, case_dir):
    before = {p.name: p.read_bytes() for p in case_dir.iterdir()}
    load_case_nodes(mrml_scene, case_dir)
    assert {p.name: p.read_bytes() for p in case_dir.iterdir()} == before
