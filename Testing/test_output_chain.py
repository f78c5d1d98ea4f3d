"""Every output of the project is accepted by the next step: translate -> segment -> evaluate -> register,
through the command line (on a phantom MR cut to the spine, so its synthetic CT holds no air, and on a
real lumbar MR from ``shared/data/real`` where that folder exists), through both Logic classes and the
translation's child process on real MRML, and through the web app's workspace."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from mrtoct.main import main
from SpineCoreLib.image_kind import judge, marked_kind
from SpineCoreLib.phantom import PhantomOptions, generate_case
from SpineCoreLib.resample import crop_to_labels

pytestmark = pytest.mark.slow  # `make quick` leaves it out: it translates, trains or serves

REAL_MR = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "sct_t2_lumbar.nii.gz"


@pytest.fixture(scope="module")
def no_air_case(tmp_path_factory) -> dict[str, Path]:
    """A phantom case whose MR and reference CT are cut to the spine: nothing outside the body in view."""
    root = tmp_path_factory.mktemp("chain")
    case = generate_case(root, "sub-chain", 21, PhantomOptions(levels=["L2", "L3", "L4"], ct_spacing=2.0,
                                                                mr_spacing=(1.5, 1.5, 3.0)))
    folder = case["truth"].parent
    mr_seg = sitk.ReadImage(str(folder / "mr_seg.nii.gz"))
    out = root / "cut"
    out.mkdir()
    files = {"mr": out / "mr.nii.gz", "mr_seg": out / "mr_seg.nii.gz", "ct": out / "ct.nii.gz", "ct_seg": out / "ct_seg.nii.gz",
             "mr_landmarks": folder / "mr_landmarks.mrk.json"}
    sitk.WriteImage(crop_to_labels(sitk.ReadImage(str(folder / "mr_t2w.nii.gz")), mr_seg, 2), str(files["mr"]))
    sitk.WriteImage(crop_to_labels(mr_seg, mr_seg, 2), str(files["mr_seg"]))
    ct_seg = sitk.ReadImage(str(folder / "ct_mrworld_seg.nii.gz"))
    ct = crop_to_labels(sitk.ReadImage(str(folder / "ct_mrworld.nii.gz")), ct_seg, 2)
    assert float(sitk.GetArrayViewFromImage(ct).min()) > -900, "the reference CT must hold no air"
    sitk.WriteImage(ct, str(files["ct"]))
    sitk.WriteImage(crop_to_labels(ct_seg, ct_seg, 2), str(files["ct_seg"]))
    return files


def _chain(mr: Path, landmarks: Path | None, ref: Path | None, ref_seg: Path | None, out: Path) -> dict:
    """The README's chain through ``mrtoct``; returns the evaluation's JSON rows."""
    sct, seg, lm = out / "sct.nii.gz", out / "sct_seg.nii.gz", out / "sct_landmarks.mrk.json"
    assert main(["translate", "--input", str(mr), "--output", str(sct)]) == 0
    plain = out / "sct_plain.nrrd"  # the same voxels without the project's mark, as another tool writes them
    image = sitk.ReadImage(str(sct))
    assert marked_kind(image) == "ct"
    copy = sitk.GetImageFromArray(sitk.GetArrayFromImage(image))
    copy.CopyInformation(image)
    sitk.WriteImage(copy, str(plain))
    for i, source in enumerate((sct, plain)):
        target = seg if i == 0 else out / "plain_seg.nii.gz"
        assert main(["segment", "--input", str(source), "--output", str(target),
                     *(["--landmarks", str(landmarks)] if landmarks else [])]) == 0
    evaluation = out / "evaluation.json"
    assert main(["evaluate", "--pred", str(sct), "--ref", str(ref or plain), "--pred-seg", str(seg),
                 "--ref-seg", str(ref_seg or seg), "--json", str(evaluation)]) == 0
    assert main(["landmarks", "--labels", str(seg), "--out", str(lm)]) == 0
    assert main(["register", "--fixed-landmarks", str(lm), "--moving-landmarks", str(lm), "--fixed", str(sct),
                 "--moving", str(plain), "--output-moving", str(out / "registered.nii.gz"), "--output-transform",
                 str(out / "t.tfm")]) == 0
    return json.loads(evaluation.read_text())


def test_the_chain_on_a_synthetic_ct_without_air(no_air_case, tmp_path):
    rows = _chain(no_air_case["mr"], no_air_case["mr_landmarks"], no_air_case["ct"], no_air_case["ct_seg"], tmp_path)
    sct = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "sct_plain.nrrd")))
    assert sct.min() > -900, "the synthetic CT was meant to hold no air"
    assert judge(sct).kind == "ct"  # its values alone decide, without the mark
    dice = [r["value"] for r in rows if r.get("metric") == "mean_dice_strict"]
    assert dice and dice[0] > 0.5, rows


@pytest.mark.skipif(not REAL_MR.is_file(), reason="shared/data/real is not here (users do not have it)")
def test_the_chain_on_a_real_lumbar_mr(tmp_path):
    rows = _chain(REAL_MR, None, None, None, tmp_path)
    mae = [r["value"] for r in rows if r.get("metric") == "mae_body_hu"]
    assert mae == [0.0], rows  # the synthetic CT against its own copy without the mark
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(tmp_path / "sct_seg.nii.gz")))
    assert len(np.unique(labels)) - 1 >= 3  # vertebrae found in the synthetic CT of a real MR


def test_the_logics_and_the_child_accept_each_others_outputs(no_air_case, slicer_standin, mrml_scene):
    from MRtoCTTranslationLib.options import SegmentationOptions, TranslationOptions
    from SpineCoreLib.mrml.case_nodes import load_nodes
    from SpineCoreLib.mrml.checks import KIND_ATTRIBUTE, volume_image

    nodes = load_nodes(mrml_scene, {k: str(v) for k, v in no_air_case.items()}, "chain")
    translation = importlib.import_module("MRtoCTTranslation").MRtoCTTranslationLogic()
    out = translation.process(nodes["mr"], TranslationOptions(steps=1), SegmentationOptions(segment=True),
                              referenceVolume=nodes["ct"], landmarks=nodes["mr_landmarks"])
    assert out.result.metrics["image"]["mae_body_hu"] > 0  # the CT crop without air was taken as the reference
    assert out.sct.GetAttribute(KIND_ATTRIBUTE) == "ct"  # the result says what it is, for the next step's check
    as_reference = volume_image(out.sct, "referenceVolume", "ct")  # the check process() runs on a reference
    assert as_reference.GetSize() == nodes["mr"].GetImageData().GetDimensions()
    registration = importlib.import_module("SpineLandmarkRegistration").SpineLandmarkRegistrationLogic()
    transform, report = registration.register(nodes["mr_landmarks"], nodes["mr_landmarks"], movingVolume=out.sct,
                                              fixedVolume=nodes["mr"])
    assert report.rms_mm < 1e-6 and transform is not None


def test_the_web_workspace_loads_a_ct_crop_without_air_and_a_synthetic_ct(no_air_case, headless_slicer,
                                                                           mrml_scene, tmp_path):
    from mrtoct.web.workspace import Workspace

    workspace = Workspace(mrml_scene, tmp_path / "data", headless_slicer.logic("Markups"))
    assert workspace.load_upload("ct.nii.gz", no_air_case["ct"].read_bytes(), "ct") == "loaded ct.nii.gz as the CT"
    sct = tmp_path / "sct.nii.gz"
    assert main(["translate", "--input", str(no_air_case["mr"]), "--output", str(sct), "--steps", "1"]) == 0
    assert workspace.load_upload("sct.nii.gz", sct.read_bytes(), "ct") == "loaded sct.nii.gz as the CT"
