"""The files the good-input corpus refers to: one small phantom case, and the same images and point lists
as users bring them from other tools (other voxel types, offsets, orientations, file formats and NIfTI
header variants, crops without air), each under a short name the cases use as ``{NAME}``."""

from __future__ import annotations

import gzip
import json
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from SpineCoreLib.markups_io import landmarks_csv_text, read_markups_json
from SpineCoreLib.phantom import PhantomOptions, generate_case
from SpineCoreLib.resample import crop_to_labels

# NIfTI-1 header fields (byte offsets of the standard): scl_slope, scl_inter, qform_code, sform_code
SCL_SLOPE, SCL_INTER, QFORM_CODE, SFORM_CODE = 112, 116, 252, 254


def _write(image: sitk.Image, path: Path) -> str:
    sitk.WriteImage(image, str(path))
    return str(path)


def patch_nifti(path: Path, fields: dict[int, tuple[str, float]]) -> str:
    """Rewrite header fields (offset -> (struct format, value)) of a .nii or .nii.gz in place."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = bytearray(f.read())
    for offset, (fmt, value) in fields.items():
        struct.pack_into("<" + fmt, data, offset, value)
    with opener(path, "wb") as f:
        f.write(bytes(data))
    return str(path)


def _values(image: sitk.Image, f: Callable[[np.ndarray], np.ndarray]) -> sitk.Image:
    out = sitk.GetImageFromArray(f(sitk.GetArrayFromImage(image).astype(np.float64)))
    out.CopyInformation(image)
    return out


def _oblique(image: sitk.Image, degrees: float = 12.0) -> sitk.Image:
    """The same voxels with the grid turned about its second axis: an oblique acquisition."""
    a = np.deg2rad(degrees)
    turn = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    out = sitk.Image(image)
    out.SetDirection(tuple((turn @ np.array(image.GetDirection()).reshape(3, 3)).ravel()))
    return out


def _thick(image: sitk.Image, spacing: tuple[float, float, float]) -> sitk.Image:
    """``image`` resampled to ``spacing`` (very anisotropic voxels)."""
    size = [max(2, int(round(n * s / t))) for n, s, t in zip(image.GetSize(), image.GetSpacing(), spacing, strict=True)]
    return sitk.Resample(image, size, sitk.Transform(), sitk.sitkLinear, image.GetOrigin(), spacing,
                         image.GetDirection(), 0.0, image.GetPixelID())


def mr_variants(root: Path, mr: sitk.Image) -> dict[str, str]:
    """MR volumes as scanners, converters and pipelines write them."""
    f = sitk.Cast(mr, sitk.sitkFloat64)
    peak = float(sitk.GetArrayViewFromImage(mr).max())
    out = {
        "MR_UINT8": _write(sitk.Cast(_values(f, lambda a: np.rint(a / peak * 255)), sitk.sitkUInt8), root / "mr_u8.nii.gz"),
        "MR_INT8": _write(sitk.Cast(_values(f, lambda a: np.rint(a / peak * 255 - 128)), sitk.sitkInt8), root / "mr_i8.nrrd"),
        "MR_FLOAT64": _write(f, root / "mr_f64.nii.gz"),
        "MR_NEGATIVE": _write(sitk.Cast(_values(f, lambda a: a - 500), sitk.sitkInt16), root / "mr_minus500.nii.gz"),
        "MR_MINUS1024": _write(sitk.Cast(_values(f, lambda a: a - 1024), sitk.sitkInt16), root / "mr_minus1024.nii.gz"),
        "MR_OFFSET": _write(sitk.Cast(_values(f, lambda a: a + 30000), sitk.sitkInt32), root / "mr_plus30000.mha"),
        "MR_ZSCORE": _write(sitk.Cast(_values(f, lambda a: (a - a.mean()) / a.std()), sitk.sitkFloat32), root / "mr_z.nrrd"),
        "MR_NRRD": _write(mr, root / "mr.nrrd"),
        "MR_MHA": _write(mr, root / "mr.mha"),
        "MR_LPS": _write(sitk.DICOMOrient(mr, "LPS"), root / "mr_lps.nii.gz"),
        "MR_RAS": _write(sitk.DICOMOrient(mr, "RAS"), root / "mr_ras.nii.gz"),
        "MR_IPL": _write(sitk.DICOMOrient(mr, "IPL"), root / "mr_ipl.nrrd"),
        "MR_OBLIQUE": _write(_oblique(mr), root / "mr_oblique.nii.gz"),
        "MR_THICK": _write(_thick(mr, (2.0, 2.0, 9.0)), root / "mr_thick9mm.nii.gz"),
        "MR_TWO_SLICES": _write(mr[:, :, mr.GetSize()[2] // 2 - 1: mr.GetSize()[2] // 2 + 1], root / "mr_two_slices.nii.gz"),
    }
    for name, code in (("MR_QFORM_ONLY", SFORM_CODE), ("MR_SFORM_ONLY", QFORM_CODE)):
        path = root / f"{name.lower()}.nii"
        _write(mr, path)
        out[name] = patch_nifti(path, {code: ("h", 0)})
    return out


def ct_variants(root: Path, ct: sitk.Image, ct_seg: sitk.Image) -> dict[str, str]:
    """CT volumes as scanners, converters and other tools write them (always in HU once read)."""
    crop = crop_to_labels(ct, ct_seg)
    assert float(sitk.GetArrayViewFromImage(crop).min()) > -900, "the crop must hold no air"
    stored = sitk.Cast(_values(ct, lambda a: a + 1024), sitk.sitkUInt16)  # DICOM-style stored values
    _write(stored, root / "ct_u16_rescaled.nii")
    padded = _values(ct, lambda a: np.where(np.arange(a.shape[2])[None, None, :] < 3, -2048, a))
    out = {
        "CT_CROP": _write(crop, root / "ct_crop.nii.gz"),
        "CT_CROP_NRRD": _write(sitk.Cast(crop, sitk.sitkFloat32), root / "ct_crop_f32.nrrd"),
        "CT_CROP_LPS": _write(sitk.DICOMOrient(crop, "LPS"), root / "ct_crop_lps.mha"),
        "CT_U16_RESCALED": patch_nifti(root / "ct_u16_rescaled.nii", {SCL_SLOPE: ("f", 1.0), SCL_INTER: ("f", -1024.0)}),
        "CT_FLOAT32": _write(sitk.Cast(ct, sitk.sitkFloat32), root / "ct_f32.nii.gz"),
        "CT_FLOAT64": _write(sitk.Cast(ct, sitk.sitkFloat64), root / "ct_f64.mha"),
        "CT_INT32": _write(sitk.Cast(ct, sitk.sitkInt32), root / "ct_i32.nrrd"),
        "CT_PADDED": _write(sitk.Cast(padded, sitk.sitkInt16), root / "ct_padded.nii.gz"),
        "CT_RAS": _write(sitk.DICOMOrient(ct, "RAS"), root / "ct_ras.nii.gz"),
        "CT_IPL": _write(sitk.DICOMOrient(ct, "IPL"), root / "ct_ipl.nrrd"),
        "CT_OBLIQUE": _write(_oblique(ct), root / "ct_oblique.nii.gz"),
        "CT_THICK": _write(_thick(ct, (1.5, 1.5, 6.0)), root / "ct_thick6mm.nii.gz"),
    }
    for name, code in (("CT_QFORM_ONLY", SFORM_CODE), ("CT_SFORM_ONLY", QFORM_CODE)):
        path = root / f"{name.lower()}.nii"
        _write(ct, path)
        out[name] = patch_nifti(path, {code: ("h", 0)})
    return out


def markups_variants(root: Path, landmarks: Path) -> dict[str, str]:
    """The same point list as Slicer and other tools write it: RAS or LPS, with unplaced points, as CSV."""
    data = json.loads(landmarks.read_text(encoding="utf-8"))
    markup = data["markups"][0]
    system = markup.get("coordinateSystem", "LPS")
    flip = np.array([-1.0, -1.0, 1.0])
    out = {}
    for target in ("RAS", "LPS"):
        m = json.loads(json.dumps(markup))
        m["coordinateSystem"] = target
        for p in m["controlPoints"]:
            if target != system:
                p["position"] = list(np.array(p["position"]) * flip)
        path = root / f"lm_{target.lower()}.mrk.json"
        path.write_text(json.dumps({**data, "markups": [m]}, indent=2), encoding="utf-8")
        out[f"LM_{target}"] = str(path)
    m = json.loads(json.dumps(markup))
    m["controlPoints"].append({"id": "99", "label": "L1-body", "position": [0.0, 0.0, 0.0],
                               "positionStatus": "undefined"})  # Slicer's 'place next' slot not yet placed
    path = root / "lm_unplaced.mrk.json"
    path.write_text(json.dumps({**data, "markups": [m]}, indent=2), encoding="utf-8")
    out["LM_UNPLACED"] = str(path)
    (root / "lm.csv").write_text(landmarks_csv_text(read_markups_json(path)), encoding="utf-8")  # the project's CSV
    out["LM_CSV"] = str(root / "lm.csv")
    return out


def make_world(root: Path) -> dict[str, str]:
    """Every ``{NAME}`` of the corpus."""
    case = generate_case(root, "sub-good", 5, PhantomOptions(levels=["L2", "L3", "L4"], ct_spacing=3.0,
                                                              mr_spacing=(2.0, 2.0, 4.0)))
    folder = case["truth"].parent
    names = {"MR": "mr_t2w.nii.gz", "MR_T1": "mr_t1w.nii.gz", "CT": "ct_mrworld.nii.gz", "CT_OWN": "ct.nii.gz",
             "LABELS": "ct_mrworld_seg.nii.gz", "CT_SEG": "ct_seg.nii.gz", "MR_LM": "mr_landmarks.mrk.json",
             "CT_LM": "ct_landmarks.mrk.json"}
    world = {k: str(folder / v) for k, v in names.items()}
    variants = root / "variants"
    variants.mkdir()
    mr = crop_to_labels(sitk.ReadImage(world["MR"]), sitk.ReadImage(str(folder / "mr_seg.nii.gz")), 4)
    world.update(mr_variants(variants, mr))  # cut to the spine: each translation has less to sample
    world.update(ct_variants(variants, sitk.ReadImage(world["CT_OWN"]), sitk.ReadImage(world["CT_SEG"])))
    world.update({f"MR_{k}": v for k, v in markups_variants(variants, Path(world["MR_LM"])).items()})
    world.update({f"CT_{k}": v for k, v in markups_variants(variants, Path(world["CT_LM"])).items()})
    return world
