"""Evaluation: image metrics (exact values on known images), the vertebra Dice protocol (strict,
shift-tolerant along the level order, missing = 0, binary), the flat results table, the figure,
``mrtoct evaluate`` and the demo's segmentation scoring on a phantom case."""

from __future__ import annotations

import csv
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from mrtoct.demo import figure, segment_and_score
from mrtoct.main import main
from SpineCoreLib.evaluation import (
    dice,
    evaluate,
    result_rows,
    segmentation_metrics,
    write_rows_csv,
    write_rows_json,
)
from SpineCoreLib.evaluation.figure import evaluation_figure
from SpineCoreLib.levels import LEVEL_IDS
from SpineCoreLib.metrics import DATA_RANGE, image_metrics
from SpineCoreLib.phantom import PhantomOptions, generate_case

LEVELS = ["L2", "L3", "L4"]
IMAGE_KEYS = ("mae_body_hu", "psnr_body_db", "ssim_body", "mae_bone_hu", "psnr_bone_db", "ssim_bone")


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("eval")
    opts = PhantomOptions(levels=LEVELS, ct_spacing=2.5, mr_spacing=(2.0, 2.0, 4.0))
    return generate_case(out, "sub-eval", 4, opts)


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _boxes(levels: list[str], shape: tuple[int, int, int] = (60, 12, 12)) -> np.ndarray:
    """A label map of one box per level, stacked along the first axis (cranial first)."""
    out = np.zeros(shape, np.uint16)
    for n, lv in enumerate(levels):
        out[2 + 10 * n: 10 + 10 * n, 2:10, 2:10] = LEVEL_IDS[lv]
    return out


# ---------------------------------------------------------------- Dice protocol


def test_identical_label_maps_score_one_everywhere():
    ref = _boxes(["L1", "L2", "L3", "L4", "L5"])
    m = segmentation_metrics(ref.copy(), ref)
    assert m["reference_levels"] == ["L1", "L2", "L3", "L4", "L5"]
    for d in m["levels"].values():
        assert d["strict"] == 1.0 and d["shift_tolerant"] == 1.0 and d["shift"] == 0
    assert m["mean_dice_strict"] == m["mean_dice_shift_tolerant"] == m["binary_dice"] == 1.0


def test_disjoint_and_missing_predictions_score_zero():
    ref = _boxes(["L3"])
    disjoint = np.zeros_like(ref)
    disjoint[40:50, 2:10, 2:10] = LEVEL_IDS["L3"]
    m = segmentation_metrics(disjoint, ref)
    assert m["levels"]["L3"]["strict"] == 0.0 and m["levels"]["L3"]["shift_tolerant"] == 0.0
    assert m["binary_dice"] == 0.0
    missing = segmentation_metrics(np.zeros_like(ref), ref)["levels"]["L3"]
    assert missing == {"level": "L3", "label": 22, "strict": 0.0, "shift_tolerant": 0.0, "matched": None,
                       "shift": None}
    assert dice(np.zeros(3, bool), np.ones(3, bool)) == 0.0
    assert math.isnan(dice(np.zeros(3, bool), np.zeros(3, bool)))  # nothing to score


def test_a_labelling_off_by_one_level_is_forgiven_only_by_the_tolerant_dice():
    ref = _boxes(["L1", "L2", "L3", "L4", "L5"])
    pred = _boxes(["T12", "L1", "L2", "L3", "L4"])  # every vertebra named one level too cranial
    m = segmentation_metrics(pred, ref)
    for d in m["levels"].values():
        assert d["strict"] == 0.0 and d["shift_tolerant"] == 1.0 and d["shift"] == -1
    assert m["levels"]["L3"]["matched"] == "L2"
    assert m["mean_dice_strict"] == 0.0 and m["mean_dice_shift_tolerant"] == 1.0 and m["binary_dice"] == 1.0


def test_shifts_count_levels_not_label_ids():
    # L5 (24) and S1 (26) are one level apart although L6 (25) lies between their IDs
    ref, pred = _boxes(["L4", "S1"]), _boxes(["L3", "L5"])
    m = segmentation_metrics(pred, ref)
    assert m["levels"]["S1"]["shift"] == -1 and m["levels"]["S1"]["shift_tolerant"] == 1.0
    # with the L6 variant in play the order has it between L5 and S1
    m6 = segmentation_metrics(_boxes(["L5", "L6"]), _boxes(["L6", "S1"]))
    assert m6["levels"]["S1"]["matched"] == "L6" and m6["levels"]["S1"]["shift"] == -1


def test_two_level_shifts_count_only_when_one_level_is_not_enough():
    ref = _boxes(["L1", "L2", "L3"])
    two_off = _boxes(["L3", "L4", "L5"])  # two levels too caudal: rescued by the +-2 extension
    m = segmentation_metrics(two_off, ref)
    assert all(d["shift"] == 2 and d["shift_tolerant"] == 1.0 for d in m["levels"].values())
    # L2's box: 60% covered by a one-level shift (L3), all of it by a two-level one (L4): one level wins
    ref2 = _boxes(["L2"])
    pred2 = np.zeros_like(ref2)
    pred2[2:10, 2:10, 2:10] = LEVEL_IDS["L4"]
    pred2[2:10, 2:10, 2:6] = LEVEL_IDS["L3"]  # half the box
    d = segmentation_metrics(pred2, ref2)["levels"]["L2"]
    assert d["matched"] == "L3" and d["shift_tolerant"] == pytest.approx(2 * 256 / (256 + 512))
    pred2[2:10, 2:10, 2:5] = LEVEL_IDS["L3"]
    pred2[2:10, 2:10, 5:10] = LEVEL_IDS["L4"]  # L3 covers 3/8 of the box: Dice 0.545, L4 would give 0.77
    d = segmentation_metrics(pred2, ref2)["levels"]["L2"]
    assert d["matched"] == "L3"  # 0.545 >= 0.5: the two-level shift is not tried
    pred2[2:10, 2:10, 2:4] = LEVEL_IDS["L3"]
    pred2[2:10, 2:10, 4:10] = LEVEL_IDS["L4"]  # L3 covers 1/4 (Dice 0.4 < 0.5): L4 (0.857) is tried and wins
    d = segmentation_metrics(pred2, ref2)["levels"]["L2"]
    assert d["matched"] == "L4" and d["shift"] == 2
    assert d["shift_tolerant"] == pytest.approx(2 * 384 / (384 + 512))


def test_levels_restrict_the_per_level_rows_but_not_the_binary_dice_and_other_labels_are_ignored():
    ref = _boxes(["T12", "L1", "L2"])
    ref[0, 0, 0] = 122  # a disc label
    pred = _boxes(["T12", "L1"])
    pred[0, 0, 1] = 60  # a cord label
    m = segmentation_metrics(pred, ref, levels=["L1", "L2"])
    assert list(m["levels"]) == ["L1", "L2"] and m["levels"]["L2"]["strict"] == 0.0
    assert m["binary_dice"] == pytest.approx(2 * 2 * 512 / (2 * 512 + 3 * 512))
    with pytest.raises(ValueError, match="resample first"):
        segmentation_metrics(pred[1:], ref)


# ---------------------------------------------------------------- image metrics


def _ct_like(shape: tuple[int, int, int] = (24, 40, 40)) -> np.ndarray:
    """Air around a soft-tissue body with a bone block and some texture."""
    rng = np.random.default_rng(0)
    ct = np.full(shape, -1000.0, np.float32)
    ct[:, 5:35, 5:35] = 40.0 + rng.normal(0, 20, (shape[0], 30, 30))
    ct[6:18, 15:25, 15:25] = 700.0 + rng.normal(0, 50, (12, 10, 10))
    return np.round(ct)  # whole HU, as CTs are stored


def test_identical_images_score_perfectly_in_both_regions():
    ct = _ct_like()
    m = image_metrics(ct, ct.copy())
    assert tuple(m) == IMAGE_KEYS
    assert m["mae_body_hu"] == m["mae_bone_hu"] == 0.0
    assert m["psnr_body_db"] == m["psnr_bone_db"] == math.inf
    assert m["ssim_body"] == pytest.approx(1.0) and m["ssim_bone"] == pytest.approx(1.0)


def test_a_constant_offset_gives_that_offset_as_mae_and_the_matching_psnr():
    ct = _ct_like()
    m = image_metrics(ct + 50.0, ct)
    assert m["mae_body_hu"] == 50.0 and m["mae_bone_hu"] == 50.0  # exactly
    expected = 10 * math.log10(DATA_RANGE**2 / 50.0**2)
    assert m["psnr_body_db"] == pytest.approx(expected) and m["psnr_bone_db"] == pytest.approx(expected)
    assert 0.0 < m["ssim_body"] < 1.0  # SSIM sees the shifted mean, unlike a structural change
    no_bone = image_metrics(np.zeros((8, 8, 8), np.float32), np.zeros((8, 8, 8), np.float32))
    assert math.isnan(no_bone["mae_bone_hu"]) and math.isnan(no_bone["ssim_bone"])


def test_evaluate_resamples_the_prediction_onto_the_reference_grid(case):
    ref = sitk.ReadImage(str(case["ct_mrworld"]))
    same = evaluate(ref, ref)
    assert same["image"]["mae_body_hu"] == 0.0 and same["segmentation"] is None
    finer = sitk.Resample(ref, [2 * n for n in ref.GetSize()], sitk.Transform(), sitk.sitkNearestNeighbor,
                          ref.TransformContinuousIndexToPhysicalPoint([-0.25, -0.25, -0.25]),
                          [s / 2 for s in ref.GetSpacing()], ref.GetDirection(), -1024.0, sitk.sitkInt16)
    m = evaluate(finer, ref)["image"]  # each reference voxel centre falls between four finer copies of itself
    assert m["mae_body_hu"] < 1.0 and m["ssim_body"] > 0.999
    seg = sitk.ReadImage(str(case["ct_mrworld_seg"]))
    r = evaluate(ref, ref, pred_seg=seg, ref_seg=seg, levels=LEVELS)
    assert r["segmentation"]["mean_dice_strict"] == 1.0 and list(r["segmentation"]["levels"]) == LEVELS
    assert r["rows"] == result_rows(r)


def test_rows_are_written_as_csv_and_json(tmp_path):
    ref = _boxes(["L1", "L2"])
    result = {"image": image_metrics(_ct_like(), _ct_like()),
              "segmentation": segmentation_metrics(_boxes(["T12", "L1"]), ref)}
    rows = result_rows(result)
    assert {r["group"] for r in rows} == {"image", "vertebra", "segmentation"}
    assert {"level": "L2", "metric": "shift", "value": -1, "group": "vertebra"} in rows
    write_rows_csv(tmp_path / "r.csv", rows)
    write_rows_json(tmp_path / "r.json", rows)
    back = list(csv.DictReader((tmp_path / "r.csv").open()))
    assert len(back) == len(rows) and list(back[0]) == ["group", "level", "metric", "value"]
    psnr = next(r for r in back if r["metric"] == "psnr_body_db")
    assert psnr["value"] == "inf"
    js = json.loads((tmp_path / "r.json").read_text())
    assert len(js) == len(rows) and next(r for r in js if r["metric"] == "psnr_body_db")["value"] is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.json"]


def test_figure_is_a_png(case, tmp_path):
    ref = sitk.ReadImage(str(case["ct_mrworld"]))
    pred = sitk.Cast(ref, sitk.sitkFloat32) + 30.0
    png = evaluation_figure(pred, ref, tmp_path / "f.png", title="test")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- command line


def test_cli_evaluate_writes_tables_and_figure_and_leaves_inputs_alone(case, tmp_path, capsys):
    pred = tmp_path / "pred.nii.gz"
    ref_img = sitk.ReadImage(str(case["ct_mrworld"]))
    sitk.WriteImage(sitk.Cast(ref_img, sitk.sitkFloat32) + 25.0, str(pred))  # a known 25 HU offset
    inputs = [pred, case["ct_mrworld"], case["ct_mrworld_seg"]]
    hashes = [_sha(p) for p in inputs]
    out = {k: tmp_path / f"out.{k}" for k in ("json", "csv", "png")}
    code = main(["evaluate", "--pred", str(pred), "--ref", str(case["ct_mrworld"]),
                 "--pred-seg", str(case["ct_mrworld_seg"]), "--ref-seg", str(case["ct_mrworld_seg"]),
                 "--levels", "L2-L4", "--json", str(out["json"]), "--csv", str(out["csv"]),
                 "--figure", str(out["png"])])
    assert code == 0
    printed = capsys.readouterr().out
    assert "body: MAE 25.0 HU" in printed and "mean Dice strict 1.000" in printed
    rows = json.loads(out["json"].read_text())
    mae = next(r["value"] for r in rows if r["metric"] == "mae_body_hu")
    assert mae == pytest.approx(25.0, abs=1e-3)
    assert [r["level"] for r in rows if r["metric"] == "dice_strict"] == LEVELS
    assert out["csv"].read_text().startswith("group,level,metric,value\n")
    assert out["png"].read_bytes()[:4] == b"\x89PNG"
    assert [_sha(p) for p in inputs] == hashes


@pytest.mark.parametrize("args,needle", [
    (["--ref", "MISSING"], "--ref"),
    (["--pred-seg", "SEG"], "give both --pred-seg and --ref-seg"),
    (["--levels", "L5-L1"], "--levels"),
    (["--json", "REF"], "would overwrite an input"),
    (["--csv", "NOFOLDER"], "does not exist"),
])
def test_cli_evaluate_bad_input_exits_2_with_one_line(case, tmp_path, capsys, args, needle):
    subst = {"MISSING": str(tmp_path / "missing.nii.gz"), "SEG": str(case["ct_mrworld_seg"]),
             "REF": str(case["ct_mrworld"]), "NOFOLDER": str(tmp_path / "no" / "r.csv")}
    base = {"--pred": str(case["ct_mrworld"]), "--ref": str(case["ct_mrworld"])}
    args = [subst.get(a, a) for a in args]
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    before = _sha(case["ct_mrworld"])
    code = main(["evaluate", *[x for kv in base.items() for x in kv]])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and needle in err, err
    assert _sha(case["ct_mrworld"]) == before and not list(tmp_path.iterdir())


# ---------------------------------------------------------------- the demo's segmentation step


def test_demo_segments_and_scores_the_phantom_and_draws_five_panels(case, tmp_path):
    ct = sitk.ReadImage(str(case["ct_mrworld"]))
    pred = sitk.GetArrayFromImage(ct).astype(np.float32) + 20.0  # a stand-in synthetic CT
    seg, scores = segment_and_score(pred, ct, case["truth"].parent)
    assert seg.GetSize() == ct.GetSize() and seg.GetOrigin() == ct.GetOrigin()
    assert scores["levels"] == LEVELS
    for name in ("sct", "phantom_ct"):
        assert set(scores[name]["dice_strict"]) == set(LEVELS)
        assert scores[name]["mean_dice_strict"] > 0.85 and scores[name]["mean_dice_shift_tolerant"] > 0.85
    ref = sitk.GetArrayFromImage(ct).astype(np.float32)
    metrics = {"model": "stand-in", "steps": 0, "precision": "fp32", "sct_vs_ideal_ct": image_metrics(pred, ref),
               "segmentation": scores}
    png = figure(sitk.Cast(ct, sitk.sitkFloat32), pred, ref, tmp_path / "demo.png", metrics,
                 sitk.GetArrayFromImage(seg))
    import matplotlib.image as mpimg

    height, width = mpimg.imread(str(png)).shape[:2]
    assert width > 3.5 * height  # five panels side by side (four would be 16 x 5.2 inches)


@pytest.mark.slow
def test_demo_command_records_its_steps_and_precision(tmp_path, capsys):
    from mrtoct.main import main

    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--steps", "1", "--precision", "fp32"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["steps"], metrics["precision"], metrics["model"]) == (1, "fp32", "ddim3d-default")
    assert (out / "demo_figure.png").is_file() and (out / "sct.nii.gz").is_file()
    said = capsys.readouterr()
    assert "mrtoct demo: precision fp32 on cpu (fp32: CPU capability" in said.err
    assert main(["demo", "--out", str(tmp_path / "none"), "--steps", "0"]) == 2
    assert not (tmp_path / "none").exists()


def test_synthrad_protocol_matches_values_computed_by_hand():
    """Constant images: MAE and PSNR follow from the difference, SSIM from its luminance term alone
    (no variance), on the shifted, clipped values; clipping applies to PSNR and SSIM, not to MAE."""
    import math

    from SpineCoreLib.evaluation.synthrad import synthrad_metrics

    ct, sct = np.zeros((12, 12, 12)), np.full((12, 12, 12), 100.0)
    m = synthrad_metrics(ct, sct)
    c1 = (0.01 * 4024.0) ** 2
    x, y = 0.0 + 1024.0, 100.0 + 1024.0
    assert m["mae_hu"] == pytest.approx(100.0)
    assert m["psnr_db"] == pytest.approx(20 * math.log10(4024.0 / 100.0))  # 32.09 dB
    assert m["ssim"] == pytest.approx((2 * x * y + c1) / (x * x + y * y + c1), rel=1e-9)
    hot = synthrad_metrics(ct, np.full(ct.shape, 5000.0))  # beyond the 3000 HU top of the range
    assert hot["mae_hu"] == pytest.approx(5000.0) and hot["psnr_db"] == pytest.approx(20 * math.log10(4024.0 / 3000.0))
    mask = np.zeros(ct.shape)
    mask[:, :6] = 1
    sct2 = sct.copy()
    sct2[:, 6:] = 1000.0  # outside the mask: no effect on MAE or PSNR
    masked = synthrad_metrics(ct, sct2, mask)
    assert masked["mae_hu"] == pytest.approx(100.0) and masked["psnr_db"] == pytest.approx(m["psnr_db"])
    assert synthrad_metrics(ct, ct)["ssim"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="mask is empty"):
        synthrad_metrics(ct, sct, np.zeros(ct.shape))


def test_cli_reports_both_protocols_inside_a_given_mask(tmp_path, capsys):
    ref = sitk.GetImageFromArray(np.full((12, 14, 16), -1000.0, np.float32))
    arr = sitk.GetArrayFromImage(ref)
    arr[2:10, 3:11, 4:12] = 60.0
    arr[5:7, 6:8, 7:9] = 900.0
    ref = sitk.GetImageFromArray(arr)
    pred = sitk.GetImageFromArray(arr + 25.0)
    mask = sitk.GetImageFromArray((arr > -500).astype(np.uint8))
    for name, img in (("ref", ref), ("pred", pred), ("mask", mask)):
        sitk.WriteImage(img, str(tmp_path / f"{name}.nii.gz"))
    out = tmp_path / "rows.json"
    assert main(["evaluate", "--pred", str(tmp_path / "pred.nii.gz"), "--ref", str(tmp_path / "ref.nii.gz"),
                 "--mask", str(tmp_path / "mask.nii.gz"), "--protocol", "project", "synthrad",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "body: MAE 25.0 HU" in text and "synthrad protocol: MAE 25.0 HU, PSNR 44.13 dB" in text
    rows = json.loads(out.read_text())
    assert {r["group"] for r in rows} == {"image", "synthrad"}
    assert next(r["value"] for r in rows if r["metric"] == "psnr_db") == pytest.approx(20 * np.log10(4024 / 25))
