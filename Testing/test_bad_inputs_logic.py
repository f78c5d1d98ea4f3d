"""Bad inputs through both Logic classes on a real MRML scene, as a console user passes them: each call
raises one ValueError (FileNotFoundError for a missing case folder) naming the argument, before any
node is added, and every input node keeps its voxels and its modification time."""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import SimpleITK as sitk

from MRtoCTTranslationLib.options import SegmentationOptions, TranslationOptions
from SpineCoreLib.mrml.case_nodes import load_case_nodes
from SpineCoreLib.phantom import PhantomOptions, generate_case

Call = Callable[[dict[str, Any]], Any]


def _tr(**options: Any) -> Call:
    return lambda n: n["translation"].process(n["mr_t2w"], TranslationOptions(**options))


def _process(**nodes: str) -> Call:
    return lambda n: n["translation"].process(**{k: n[v] if v else None for k, v in nodes.items()})


def _reg(fixed: str, moving: str, **extra: str) -> Call:
    return lambda n: n["registration"].register(n[fixed], n[moving], **{k: n[v] for k, v in extra.items()})


CASES: list[tuple[str, Call, str]] = [
    ("process inputVolume None", _process(inputVolume=""), "inputVolume: select a scalar volume"),
    ("process inputVolume points", _process(inputVolume="mr_landmarks"), "not a scalar volume"),
    ("process inputVolume label map", _process(inputVolume="mr_seg"), "is a label map"),
    ("process inputVolume CT", _process(inputVolume="ct_mrworld"), "looks like a CT"),
    ("process inputVolume empty node", _process(inputVolume="empty"), "has no image data"),
    ("process inputVolume NaN", _process(inputVolume="nan"), "NaN or infinite"),
    ("process inputVolume constant", _process(inputVolume="constant"), "constant"),
    ("process referenceVolume MR", _process(inputVolume="mr_t2w", referenceVolume="mr_t1w"), "referenceVolume"),
    ("process referenceVolume points", _process(inputVolume="mr_t2w", referenceVolume="mr_landmarks"),
     "not a scalar volume"),
    ("process referenceLabels MR", _process(inputVolume="mr_t2w", referenceLabels="mr_t1w"), "no label map"),
    ("process landmarks volume", _process(inputVolume="mr_t2w", landmarks="mr_t1w"), "not a point list"),
    ("process steps 0", _tr(steps=0), "steps"),
    ("process steps 5000", _tr(steps=5000), "steps"),
    ("process eta 2", _tr(eta=2.0), "eta"),
    ("process samples 0", _tr(samples=0), "samples"),
    ("process seed -1", _tr(seed=-1), "seed"),
    ("process precision fp64", _tr(precision="fp64"), "precision"),
    ("process device tpu", _tr(device="tpu"), "device"),
    ("process overlap 1", _tr(overlap=1.0), "overlap"),
    ("process window_batch 0", _tr(window_batch=0), "window_batch"),
    ("process window one size", _tr(window=(8,)), "window needs 3 sizes"),
    ("process target FLAIR", _tr(target="FLAIR"), "CT only"),
    ("process latent target FLAIR", _tr(model="latent3d-multitarget", target="FLAIR"), "unknown target"),
    ("process unknown model", _tr(model="no-such-model"), "unknown model"),
    ("process segmentation method empty",
     lambda n: n["translation"].process(n["mr_t2w"], TranslationOptions(), SegmentationOptions(segmentation_method="")),
     "segmentation method"),
    ("loadCase missing folder", lambda n: n["translation"].loadCase(str(n["root"] / "nowhere")), "does not exist"),
    ("loadCase truncated file", lambda n: n["translation"].loadCase(str(n["broken_case"])), "truncated"),
    ("loadCase bad point list", lambda n: n["translation"].loadCase(str(n["bad_points_case"])), "not valid JSON"),
    ("register fixed is a volume", _reg("mr_t2w", "ct_landmarks"), "fixedLandmarks: "),
    ("register moving is None", _reg("mr_landmarks", "none"), "movingLandmarks: select a point list"),
    ("register transform is a volume", _reg("mr_landmarks", "ct_landmarks", transformNode="mr_t2w"),
     "not a transform"),
    ("register movingVolume is points", _reg("mr_landmarks", "ct_landmarks", movingVolume="mr_landmarks"),
     "not a scalar volume"),
    ("register fixedVolume is a table", _reg("mr_landmarks", "ct_landmarks", fixedVolume="table"),
     "not a scalar volume"),
    ("register unknown mode", lambda n: n["registration"].register(n["mr_landmarks"], n["ct_landmarks"], "elastic"),
     "elastic"),
    ("register one point each", _reg("one_point", "one_point"), "point"),
    ("live registration fixed volume", lambda n: n["registration"].startLiveRegistration(n["mr_t2w"], n["ct_landmarks"]),
     "fixedLandmarks"),
    ("placeNext on a volume", lambda n: n["registration"].placeNext(n["mr_t2w"]), "not a point list"),
    ("lock unknown labels", lambda n: n["registration"].lockLandmarks(n["mr_landmarks"], ["Z9-body"]), "Z9-body"),
    ("createLandmarkNode bad range", lambda n: n["registration"].createLandmarkNode("Z1-Z2", "x"), "Z1"),
    ("hardenCopy no volume", lambda n: n["registration"].hardenCopy(None, n["transform"]), "movingVolume"),
    ("hardenCopy no transform", lambda n: n["registration"].hardenCopy(n["ct"], None), "transformNode"),
    ("exportPair out is a file",
     lambda n: n["registration"].exportPair(n["mr_t2w"], n["ct"], n["transform"], str(n["afile"]), "s1"),
     "is a file"),
    ("exportPair bad subject",
     lambda n: n["registration"].exportPair(n["mr_t2w"], n["ct"], n["transform"], str(n["root"] / "pairs"), "a/b"),
     "subject"),
    ("exportPair label map as fixed",
     lambda n: n["registration"].exportPair(n["mr_seg"], n["ct"], n["transform"], str(n["root"] / "pairs"), "s1"),
     "label map"),
    ("checkerboard without transform",
     lambda n: n["registration"].startCheckerboard(n["mr_t2w"], n["ct"], None), "register first"),
]


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("badlogic")
    folder = generate_case(root, "sub-logic", 9, PhantomOptions(levels=["L2", "L3", "L4"], ct_spacing=3.0,
                                                                 mr_spacing=(2.0, 2.0, 4.0)))["truth"].parent
    broken = root / "broken"
    shutil.copytree(folder, broken)
    data = (broken / "ct.nii.gz").read_bytes()
    (broken / "ct.nii.gz").write_bytes(data[: len(data) // 2])
    bad_points = root / "bad_points"
    shutil.copytree(folder, bad_points)
    (bad_points / "ct_landmarks.mrk.json").write_text("{ not json")
    (root / "afile.txt").write_text("a file, not a folder\n")
    return folder


def _nodes(scene: Any, case_dir: Path) -> dict[str, Any]:
    nodes: dict[str, Any] = dict(load_case_nodes(scene, case_dir))
    mr = nodes["mr_t2w"]

    def volume(name: str, values: np.ndarray) -> Any:
        from SpineCoreLib.mrml.volumes import add_volume_node_from_image

        image = sitk.GetImageFromArray(values)
        image.CopyInformation(sitk.ReadImage(str(case_dir / "mr_t2w.nii.gz")))
        return add_volume_node_from_image(scene, image, name)

    import slicer.util

    shape = slicer.util.arrayFromVolume(mr).shape
    nan = slicer.util.arrayFromVolume(mr).astype(np.float32).copy()
    nan[0, 0, 0] = np.nan
    nodes.update(nan=volume("nan", nan), constant=volume("constant", np.full(shape, 7.0, np.float32)),
                 empty=scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "empty"),
                 table=scene.AddNewNodeByClass("vtkMRMLTableNode", "table"), none=None)
    one = scene.AddNewNodeByClass("vtkMRMLMarkupsFiducialNode", "one")
    one.AddControlPoint(1.0, 2.0, 3.0, "L3-body")
    nodes["one_point"] = one
    return nodes


def _state(scene: Any) -> list[tuple[str, int]]:
    nodes = [scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes())]
    return sorted((n.GetID(), n.GetMTime()) for n in nodes)


def test_the_logic_corpus_covers_both_logics():
    assert sum(c[0].startswith(("process", "loadCase")) for c in CASES) >= 25
    assert sum(c[0].startswith(("register", "live", "place", "lock", "create", "harden", "export", "checker"))
               for c in CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_input_to_a_logic_changes_nothing(case, slicer_standin, mrml_scene, case_dir):
    import slicer.util

    name, call, needle = case
    translation = importlib.import_module("MRtoCTTranslation").MRtoCTTranslationLogic()
    registration = importlib.import_module("SpineLandmarkRegistration").SpineLandmarkRegistrationLogic()
    nodes = _nodes(mrml_scene, case_dir)
    transform, _ = registration.register(nodes["mr_landmarks"], nodes["ct_landmarks"], "rigid")
    nodes.update(translation=translation, registration=registration, transform=transform, root=case_dir.parent,
                 broken_case=case_dir.parent / "broken", bad_points_case=case_dir.parent / "bad_points",
                 afile=case_dir.parent / "afile.txt")
    volumes = {k: slicer.util.arrayFromVolume(v).copy() for k, v in nodes.items()
               if hasattr(v, "IsA") and v.IsA("vtkMRMLScalarVolumeNode") and v.GetImageData() is not None}
    before = _state(mrml_scene)
    with pytest.raises((ValueError, FileNotFoundError)) as err:
        call(nodes)
    message = str(err.value)
    assert needle in message and len(message.strip().splitlines()) == 1, message
    assert _state(mrml_scene) == before
    for k, array in volumes.items():
        np.testing.assert_array_equal(slicer.util.arrayFromVolume(nodes[k]), array)
    assert not (case_dir.parent / "pairs").exists()
