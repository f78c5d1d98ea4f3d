"""``mrtoct register`` end to end on phantom pairs, and its transform files as Slicer reads them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from mrtoct.main import main
from SpineCoreLib.geometry import ras_to_lps
from SpineCoreLib.manifest import read_manifest
from SpineCoreLib.markups_io import read_markups_json, write_markups_json
from SpineCoreLib.phantom import PhantomOptions, generate_cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> list[dict[str, str]]:
    out = tmp_path_factory.mktemp("regcli") / "phantom"
    opts = PhantomOptions(levels=["L2", "L3", "L4"], curvature_change=False)
    return read_manifest(generate_cohort(out, 2, seed=8, opts=opts))


def _dice(a: np.ndarray, b: np.ndarray, labels: list[int]) -> float:
    return float(np.mean([2 * ((a == v) & (b == v)).sum() / ((a == v).sum() + (b == v).sum()) for v in labels]))


def test_single_pair_writes_transform_report_and_resampled_images(cohort, tmp_path):
    row = cohort[0]
    t, rep, ct_out, seg_out = (tmp_path / n for n in ("t.h5", "r.json", "ct.nii.gz", "seg.nii.gz"))
    code = main(["register", "--fixed-landmarks", row["mr_landmarks"], "--moving-landmarks", row["ct_landmarks"],
                 "--output-transform", str(t), "--report", str(rep), "--fixed", row["mr_t2w"], "--moving", row["ct"],
                 "--output-moving", str(ct_out), "--moving-labels", row["ct_seg"], "--output-labels", str(seg_out)])
    assert code == 0
    report = json.loads(rep.read_text())
    assert {"mode", "rms_mm", "residuals_mm", "matched", "unmatched", "warnings"} <= set(report)
    assert report["mode"] == "rigid" and report["rms_mm"] < 1e-6 and len(report["residuals_mm"]) == 6
    # ITK convention: the file maps fixed (MR) points to moving (CT) points, in LPS
    tfm = sitk.ReadTransform(str(t))
    mr, ct = read_markups_json(row["mr_landmarks"]).defined(), read_markups_json(row["ct_landmarks"]).defined()
    for name in mr:
        assert np.allclose(tfm.TransformPoint(tuple(ras_to_lps(mr[name]))), ras_to_lps(ct[name]), atol=1e-3)
    seg = sitk.ReadImage(str(seg_out))
    mr_seg = sitk.ReadImage(row["mr_seg"])
    assert seg.GetSize() == mr_seg.GetSize() and np.allclose(seg.GetDirection(), mr_seg.GetDirection())
    assert _dice(sitk.GetArrayFromImage(seg), sitk.GetArrayFromImage(mr_seg), [21, 22, 23]) > 0.85
    ct_img = sitk.GetArrayFromImage(sitk.ReadImage(str(ct_out)))
    assert ct_img.min() >= -1024 and ct_img.max() > 500


def test_transform_file_moves_the_ct_onto_the_mr_in_slicer(cohort, tmp_path, mrml_scene):
    import slicer

    row = cohort[1]
    t = tmp_path / "t.h5"
    assert main(["register", "--fixed-landmarks", row["mr_landmarks"], "--moving-landmarks", row["ct_landmarks"],
                 "--mode", "piecewise", "--output-transform", str(t), "--fixed", row["mr_t2w"]]) == 0
    storage = slicer.vtkMRMLTransformStorageNode()
    mrml_scene.AddNode(storage)
    node = slicer.vtkMRMLTransformNode()
    mrml_scene.AddNode(node)
    storage.SetFileName(str(t))
    assert storage.ReadData(node)
    to_world = node.GetTransformToParent()  # what Slicer applies to a CT placed under this transform
    mr, ct = read_markups_json(row["mr_landmarks"]).defined(), read_markups_json(row["ct_landmarks"]).defined()
    err = [np.linalg.norm(np.array(to_world.TransformPoint(ct[n])) - mr[n]) for n in mr]
    assert max(err) < 0.5


def test_manifest_mode_registers_a_cohort_into_training_pairs(cohort, tmp_path):
    manifest = Path(cohort[0]["truth"]).parent.parent / "manifest.csv"
    out = tmp_path / "pairs"
    assert main(["register", "--manifest", str(manifest), "--out", str(out), "--spacing", "2"]) == 0
    rows = read_manifest(out / "manifest.csv")
    assert [r["subject"] for r in rows] == [r["subject"] for r in cohort]
    for row, src in zip(rows, cohort, strict=True):
        ct = sitk.ReadImage(row["ct_mrworld"])
        seg = sitk.GetArrayFromImage(sitk.ReadImage(row["ct_mrworld_seg"]))
        mr_seg = sitk.GetArrayFromImage(sitk.ReadImage(row["mr_seg"]))
        assert ct.GetSpacing() == (2.0, 2.0, 2.0) and seg.shape == mr_seg.shape
        assert _dice(seg, mr_seg, [21, 22, 23]) > 0.8
        full = sitk.ReadImage(src["ct_mrworld"])  # the phantom's ideal pair, same extent before cropping
        assert all(a <= b + 1 for a, b in zip(ct.GetSize(), full.GetSize(), strict=True))
        assert (out / row["subject"] / "transform.h5").is_file()
        assert json.loads((out / row["subject"] / "registration.json").read_text())["rms_mm"] < 1e-6


@pytest.mark.parametrize("case", ["missing", "malformed", "too_few", "no_overlap", "half_resample"])
def test_bad_input_is_one_line_and_exit_2(cohort, tmp_path, capsys, case):
    row = cohort[0]
    fixed, moving = row["mr_landmarks"], row["ct_landmarks"]
    extra: list[str] = []
    if case == "missing":
        moving = str(tmp_path / "nope.mrk.json")
    elif case == "malformed":
        moving = str(tmp_path / "bad.mrk.json")
        Path(moving).write_text("{ not json")
    elif case == "too_few":
        ls = read_markups_json(moving)
        ls.landmarks = ls.landmarks[:2]
        moving = str(write_markups_json(tmp_path / "two.mrk.json", ls))
    elif case == "no_overlap":
        ls = read_markups_json(moving)
        for lm in ls.landmarks:
            lm.position = lm.position + np.array([0.0, 0.0, 2000.0])
        moving = str(write_markups_json(tmp_path / "far.mrk.json", ls))
        extra = ["--fixed", row["mr_t2w"], "--moving", row["ct"], "--output-moving", str(tmp_path / "o.nii.gz")]
    elif case == "half_resample":
        extra = ["--moving", row["ct"]]
    t = tmp_path / "t.h5"
    code = main(["register", "--fixed-landmarks", fixed, "--moving-landmarks", moving, "--output-transform", str(t),
                 *extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("mrtoct register: error:"), err
    assert not (tmp_path / "o.nii.gz").exists() and not t.exists()
