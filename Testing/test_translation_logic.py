"""The module's Logic end to end on real MRML: a phantom case through the bundled model (few steps),
every output node, geometry, segment names, the input untouched, and cancel/failure leaving the
scene as it was."""

from __future__ import annotations

import importlib
import os
import signal
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from MRtoCTTranslationLib.options import SegmentationOptions, TranslationOptions
from MRtoCTTranslationLib.results import Cancelled
from SpineCoreLib.levels import ID_LEVELS
from SpineCoreLib.phantom import PhantomOptions, generate_case

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("logiccase")
    opts = PhantomOptions(levels=["L2", "L3", "L4"], ct_spacing=2.0, mr_spacing=(1.5, 1.5, 3.0))
    return generate_case(out, "logic", 11, opts)["truth"].parent


def _logic(slicer_standin: Any) -> Any:
    return importlib.import_module("MRtoCTTranslation").MRtoCTTranslationLogic()


def _scene_state(scene: Any) -> list[tuple[str, str, int]]:
    nodes = [scene.GetNthNode(i) for i in range(scene.GetNumberOfNodes())]
    return sorted((n.GetID(), n.GetName(), n.GetMTime()) for n in nodes)


def _ijk_to_ras(node: Any) -> np.ndarray:
    import vtk

    m = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(m)
    return np.array([[m.GetElement(r, c) for c in range(4)] for r in range(4)])


def test_process_creates_every_output_and_leaves_the_input_alone(slicer_standin, mrml_scene, case_dir):
    import slicer.util

    logic = _logic(slicer_standin)
    nodes = logic.loadCase(str(case_dir))
    mr = nodes["mr_t2w"]
    composite = mrml_scene.AddNewNodeByClass("vtkMRMLSliceCompositeNode")  # a slice view, as in the GUI
    sh = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(mrml_scene)
    study = sh.CreateStudyItem(sh.CreateSubjectItem(sh.GetSceneItemID(), "patient"), "study")
    sh.CreateItem(study, mr)
    before = slicer.util.arrayFromVolume(mr).copy()
    before_matrix, before_mtime = _ijk_to_ras(mr), mr.GetMTime()
    stages: list[str] = []

    out = logic.process(mr, TranslationOptions(steps=2, samples=2, output_iso=True), SegmentationOptions(segment=True),
                        referenceVolume=nodes["ct_mrworld"], referenceLabels=nodes["ct_mrworld_seg"],
                        landmarks=nodes["mr_landmarks"], progress=lambda stage, done, total: stages.append(stage))

    # the input: same voxels, same geometry, not modified
    np.testing.assert_array_equal(slicer.util.arrayFromVolume(mr), before)
    assert mr.GetMTime() == before_mtime and np.array_equal(_ijk_to_ras(mr), before_matrix)
    # synthetic CT on the input's exact grid, in HU
    assert out.sct.GetImageData().GetDimensions() == mr.GetImageData().GetDimensions()
    np.testing.assert_allclose(_ijk_to_ras(out.sct), before_matrix, atol=1e-9)
    sct = slicer.util.arrayFromVolume(out.sct)
    assert sct.min() >= -1024 and sct.max() > 300  # bone in HU
    assert out.sct_iso is not None and np.allclose(out.sct_iso.GetSpacing(), 2.0)
    # uncertainty (two samples): same grid, non-negative, not all zero
    unc = slicer.util.arrayFromVolume(out.uncertainty)
    assert out.uncertainty.GetImageData().GetDimensions() == mr.GetImageData().GetDimensions()
    assert unc.min() >= 0 and unc.max() > 0
    # segmentation: one named segment per vertebra in view, label values are VerSe IDs
    from MRtoCTTranslationLib.mrml.result_nodes import read_table, segment_label_values

    segs = segment_label_values(out.segmentation)
    assert set(segs) == {"L2", "L3", "L4"}
    assert all(ID_LEVELS[v] == k for k, v in segs.items())
    # metrics table (the reference was given)
    rows = read_table(out.metrics_table)
    assert rows and out.result.metrics["image"]["mae_body_hu"] > 0
    # placed in the input's study; slice views show MR under the synthetic CT
    for node in out.all():
        assert sh.GetItemParent(sh.GetItemByDataNode(node)) == study
    assert composite.GetBackgroundVolumeID() == mr.GetID() and composite.GetForegroundVolumeID() == out.sct.GetID()
    assert stages[0] == "load" and "translate" in stages and "segment" in stages and stages[-1] == "evaluate"


def test_cancel_in_the_middle_leaves_the_scene_as_it_was(slicer_standin, mrml_scene, case_dir):
    logic = _logic(slicer_standin)
    nodes = logic.loadCase(str(case_dir))
    state = _scene_state(mrml_scene)
    seen: list[int] = []
    job_box: list[Any] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "translate":
            seen.append(done)
            if done >= 2:
                job_box[0].cancel()

    job = logic.process(nodes["mr_t2w"], TranslationOptions(steps=10), waitForCompletion=False, progress=progress)
    job_box.append(job)
    assert job.pid is not None and job.pid != os.getpid()  # the work runs in a child process
    assert job.wait(120)
    assert job.state == "cancelled" and max(seen) < 10  # stopped before the last step
    with pytest.raises(ProcessLookupError):
        os.killpg(job.pid, 0)  # the child's whole process group is gone
    with pytest.raises(Cancelled):
        job.commit()
    assert _scene_state(mrml_scene) == state


@pytest.mark.skipif(os.name != "posix", reason="kills the child's process group with a POSIX signal")
def test_a_crashed_child_is_reported_and_adds_nothing(slicer_standin, mrml_scene, case_dir):
    """The child killed from outside (as by the out-of-memory killer) mid-run: a clear error, no nodes,
    no temporary folder left behind."""
    logic = _logic(slicer_standin)
    nodes = logic.loadCase(str(case_dir))
    state = _scene_state(mrml_scene)
    killed: list[int] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "translate" and not killed:
            killed.append(job.pid)
            os.killpg(job.pid, signal.SIGKILL)

    job = logic.process(nodes["mr_t2w"], TranslationOptions(steps=10), waitForCompletion=False, progress=progress)
    folder = job._folder
    assert job.wait(120) and killed
    assert job.state == "failed"
    assert "stopped unexpectedly (exit status -9)" in str(job.error)
    with pytest.raises(RuntimeError, match="stopped unexpectedly"):
        job.commit()
    assert _scene_state(mrml_scene) == state and not folder.exists()


def test_background_job_reports_progress_and_finishes(slicer_standin, mrml_scene, case_dir):
    import logging

    import MRtoCTTranslation

    logic = _logic(slicer_standin)
    nodes = logic.loadCase(str(case_dir))
    lines: list[str] = []
    handler = MRtoCTTranslation._ListLogHandler(lines)  # what the panel's log pane shows
    logging.getLogger("MRtoCTTranslationLib").addHandler(handler)
    logging.getLogger("MRtoCTTranslationLib").setLevel(logging.INFO)
    try:
        job = logic.process(nodes["mr_t1w"], TranslationOptions(steps=2, precision="fp32"),
                            SegmentationOptions(segment=False), waitForCompletion=False)
        t0 = time.perf_counter()
        while not job.finished and time.perf_counter() - t0 < 120:
            time.sleep(0.05)
    finally:
        logging.getLogger("MRtoCTTranslationLib").removeHandler(handler)
        logging.getLogger("MRtoCTTranslationLib").setLevel(logging.NOTSET)
    assert job.state == "finished" and job.fraction == pytest.approx(0.9, abs=0.05)
    assert any("translating to CT with ddim3d-default, 2 steps" in x for x in lines)
    assert any("precision fp32 on cpu (fp32: CPU capability" in x for x in lines), lines
    assert any("model ddim3d-default: trained on synthetic data, 28 subjects: phantom cohort train40" in x
               for x in lines), lines
    assert any("trained on synthetic phantom data only" in x and "not for clinical use" in x for x in lines)
    out = job.commit()
    assert out.segmentation is None and out.metrics_table is None and out.uncertainty is None
    assert out.sct.GetName() == f"{nodes['mr_t1w'].GetName()}_sCT"


def test_a_failure_leaves_the_scene_as_it_was_and_bad_inputs_are_named(slicer_standin, mrml_scene, case_dir):
    logic = _logic(slicer_standin)
    nodes = logic.loadCase(str(case_dir))
    state = _scene_state(mrml_scene)
    with pytest.raises(Exception, match="no-such-model"):
        logic.process(nodes["mr_t2w"], TranslationOptions(model="no-such-model", steps=1))
    assert _scene_state(mrml_scene) == state
    with pytest.raises(ValueError, match="label map"):
        logic.process(nodes["mr_seg"], TranslationOptions(steps=1))
    with pytest.raises(ValueError, match="steps"):
        logic.process(nodes["mr_t2w"], TranslationOptions(steps=0))
    with pytest.raises(ValueError, match="precision 'fp64' is not one of auto, fp32, bf16, fp16"):
        logic.process(nodes["mr_t2w"], TranslationOptions(precision="fp64"))
    assert _scene_state(mrml_scene) == state
