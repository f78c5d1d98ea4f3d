"""The files the bad-input corpus refers to: one small good phantom case, and every kind of bad file a
user brings by mistake, each under a short name the cases use as ``{NAME}``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.image_kind import mark_kind
from SpineCoreLib.phantom import PhantomOptions, generate_case
from SpineCoreLib.resample import crop_to_labels


def _write(image: sitk.Image, path: Path) -> str:
    sitk.WriteImage(image, str(path))
    return str(path)


def bad_images(root: Path, mr: sitk.Image) -> dict[str, str]:
    """Images that must be refused wherever an image is read."""
    out = {}
    (root / "notes.nii.gz").write_text("not an image, despite the name\n")
    out["TEXT_GZ"] = str(root / "notes.nii.gz")
    (root / "notes.nrrd").write_text("NRRD0004\ntype: nonsense\n")
    out["TEXT_NRRD"] = str(root / "notes.nrrd")
    good = Path(_write(mr, root / "whole.nii.gz")).read_bytes()
    (root / "truncated.nii.gz").write_bytes(good[: len(good) // 2])
    out["TRUNCATED"] = str(root / "truncated.nii.gz")
    out["TWO_D"] = _write(mr[:, :, mr.GetSize()[2] // 2], root / "slice.nii.gz")
    out["FOUR_D"] = _write(sitk.JoinSeries([mr, mr]), root / "series.nii.gz")
    values = sitk.GetArrayFromImage(sitk.Cast(mr, sitk.sitkFloat32))
    values[0, 0, :3] = [np.nan, np.inf, -np.inf]
    nan = sitk.GetImageFromArray(values)
    nan.CopyInformation(mr)
    out["NAN"] = _write(nan, root / "nan.nrrd")
    out["NAN_NII"] = _write(nan, root / "nan.nii.gz")  # ITK reads these voxels as 0: only the file tells
    sheared = sitk.Image(mr)
    sheared.SetDirection((1.0, 0.3, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0))
    out["SHEARED"] = _write(sheared, root / "sheared.nrrd")
    out["TINY"] = _write(mr[:1, :1, :1], root / "tiny.nii.gz")
    flat = sitk.Image(mr.GetSize(), sitk.sitkFloat32)
    flat.CopyInformation(mr)
    out["CONSTANT"] = _write(flat, root / "constant.nii.gz")
    out["DIR"] = str(root)
    out["MISSING"] = str(root / "missing.nii.gz")
    return out


def bad_markups(root: Path, good: Path) -> dict[str, str]:
    """Point lists that must be refused wherever landmarks are read."""
    data = json.loads(good.read_text())
    out = {}

    def dump(name: str, content: object) -> None:
        (root / name).write_text(content if isinstance(content, str) else json.dumps(content))
        out[name.split(".")[0].upper()] = str(root / name)

    dump("lm_notjson.mrk.json", "{ not json")
    dump("lm_list.mrk.json", [1, 2, 3])
    dump("lm_nomarkups.mrk.json", {"@schema": data.get("@schema", ""), "markups": []})
    nan = json.loads(json.dumps(data))
    nan["markups"][0]["controlPoints"][0]["position"] = ["NaN", 0, 0]
    dump("lm_nan.mrk.json", json.dumps(nan).replace('"NaN"', "NaN"))
    dup = json.loads(json.dumps(data))
    points = dup["markups"][0]["controlPoints"]
    points[1]["label"] = points[0]["label"]
    dump("lm_duplicate.mrk.json", dup)
    unnamed = json.loads(json.dumps(data))
    unnamed["markups"][0]["controlPoints"][0]["label"] = "somewhere"
    dump("lm_badlabel.mrk.json", unnamed)
    return out


def bad_configs(root: Path, case_dir: Path) -> dict[str, str]:
    """Training configs and manifests with one fault each (the good ones train the tiny test model)."""
    from SpineCoreLib.manifest import write_manifest

    row = {"subject": case_dir.name, "split": "train", **{k: str(case_dir / f"{k}.nii.gz") for k in (
        "mr_t2w", "mr_t1w", "ct_mrworld", "ct", "ct_seg", "mr_seg")},
        "mr_landmarks": str(case_dir / "mr_landmarks.mrk.json"), "ct_landmarks": str(case_dir / "ct_landmarks.mrk.json")}
    manifest = write_manifest(root / "manifest.csv", [row])
    (root / "header_only.csv").write_text(manifest.read_text().splitlines()[0] + "\n")
    broken = dict(row, ct=str(root / "gone.nii.gz"))
    write_manifest(root / "missing_file.csv", [broken])
    nolm = {k: v for k, v in row.items() if k != "ct_landmarks"}
    write_manifest(root / "no_landmarks.csv", [nolm])
    good = {"manifest": "manifest.csv", "spacing_mm": 4.0, "patch_size": [16, 16, 8], "batch_size": 1, "steps": 2,
            "network": {"kind": "diffusion", "spatial_dims": 3, "channels": [4, 8], "norm_num_groups": 2},
            "val_cases": 0, "out_dir": "run"}
    configs = {
        "CFG_NOTYAML": "key: [unclosed\n",
        "CFG_LIST": "- a\n- b\n",
        "CFG_LR_WORD": {**good, "lr": "fast"},
        "CFG_STEPS_WORD": {**good, "steps": "many"},
        "CFG_STEPS_FLOAT": {**good, "steps": 2.5},
        "CFG_UNKNOWN_KEY": {**good, "learning_rate": 0.1},
        "CFG_NETWORK_KEY": {**good, "network": {**good["network"], "depth": 3}},
        "CFG_NETWORK_LIST": {**good, "network": [1, 2]},
        "CFG_NO_MANIFEST": {**good, "manifest": "nowhere.csv"},
        "CFG_NEG_LR": {**good, "lr": -1.0},
        "CFG_PATCH": {**good, "patch_size": [15, 16, 8]},
        "CFG_PRECISION": {**good, "precision": "fp64"},
        "CFG_EMA": {**good, "ema_decay": 1.5},
        "CFG_LATENT_STAGE": {"kind": "latent", "manifest": "manifest.csv", "stages": {"warmup": {"steps": 1}}},
        "CFG_LATENT_SOURCES": {"kind": "latent", "manifest": "manifest.csv", "sources": ["flair"]},
        "CFG_GOOD": good,
    }
    import yaml

    out = {"MANIFEST": str(manifest), "MANIFEST_EMPTY": str(root / "header_only.csv"),
           "MANIFEST_MISSING_FILE": str(root / "missing_file.csv"), "MANIFEST_NO_LM": str(root / "no_landmarks.csv")}
    for name, content in configs.items():
        path = root / f"{name.lower()}.yaml"
        path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
        out[name] = str(path)
    return out


def ct_like_mrs(root: Path, ct: sitk.Image, ct_seg: sitk.Image, mr: sitk.Image) -> dict[str, str]:
    """What must be refused where an MR is read: a CT cut to the spine (no air, yet fat, muscle and bone
    at their HU), and an image marked as a synthetic CT by the project whose values alone decide nothing."""
    crop = crop_to_labels(ct, ct_seg)
    assert float(sitk.GetArrayViewFromImage(crop).min()) > -900, "the crop must hold no air"
    marked = sitk.Cast(mr, sitk.sitkFloat32) - 300.0  # values below 0, no HU anchors
    mark_kind(marked, "ct", "synthetic CT")
    return {"CT_CROP": _write(crop, root / "ct_spine_crop.nii.gz"), "SCT": _write(marked, root / "marked_sct.nrrd")}


def make_world(root: Path) -> dict[str, str]:
    """Every ``{NAME}`` of the corpus: good inputs, bad inputs, places to write."""
    case = generate_case(root, "sub-bad", 3, PhantomOptions(levels=["L2", "L3", "L4"], ct_spacing=3.0,
                                                             mr_spacing=(2.0, 2.0, 4.0)))
    folder = case["truth"].parent
    names = {"MR": folder / "mr_t2w.nii.gz", "MR_T1": folder / "mr_t1w.nii.gz", "CT": folder / "ct_mrworld.nii.gz",
             "CT_OWN": folder / "ct.nii.gz", "LABELS": folder / "ct_mrworld_seg.nii.gz", "MR_SEG": folder / "mr_seg.nii.gz",
             "CT_SEG": folder / "ct_seg.nii.gz", "MR_LM": folder / "mr_landmarks.mrk.json",
             "CT_LM": folder / "ct_landmarks.mrk.json"}
    world = {k: str(v) for k, v in names.items()}
    bad = root / "bad"
    bad.mkdir()
    world.update(bad_images(bad, sitk.ReadImage(world["MR"])))
    world.update(bad_markups(bad, Path(world["MR_LM"])))
    world.update(ct_like_mrs(bad, sitk.ReadImage(world["CT_OWN"]), sitk.ReadImage(world["CT_SEG"]),
                             sitk.ReadImage(world["MR"])))
    far = sitk.ReadImage(world["CT"])
    far.SetOrigin([o + 2000.0 for o in far.GetOrigin()])
    world["CT_FAR"] = _write(far, bad / "ct_far.nii.gz")
    (bad / "afile.txt").write_text("a regular file where a folder is expected\n")
    world["FILE"] = str(bad / "afile.txt")
    world["NO_FOLDER_DIR"] = str(root / "no" / "such" / "folder")
    world.update(bad_configs(bad, folder))
    shutil.copy(world["MR"], bad / "mr_copy.nii.gz")
    world["MR_COPY"] = str(bad / "mr_copy.nii.gz")
    return world
