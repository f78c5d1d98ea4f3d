"""Held-out metrics of translation models on a phantom test cohort.

Run: ``python Testing/Benchmarks/eval_models.py --manifest data/test8/manifest.csv --models ddim3d-default
[more names or folders] [--steps 20] [--random-contrasts 1] [--json out.json]``.

For every test case the MR (T2w, T1w and, optionally, random contrasts re-synthesised from the
tissue map, which no model saw in training) is translated, and the synthetic CT on the model grid
is compared with the phantom's CT in the MR world (``ct_mrworld``): MAE in HU inside the body,
PSNR with a fixed 2000 HU range, SSIM (3D), and MAE inside a dilated bone mask.
"""

from __future__ import annotations

import argparse
import json
import time
import zlib

import numpy as np
import SimpleITK as sitk

from MRtoCTTranslationLib.metrics import image_metrics
from MRtoCTTranslationLib.models.registry import resolve
from MRtoCTTranslationLib.training.contrast import random_contrast
from MRtoCTTranslationLib.translator import load_model, translate_image
from SpineLandmarkRegistrationLib.manifest import read_manifest


def inputs_for(row: dict[str, str], n_random: int, rng: np.random.Generator) -> dict[str, sitk.Image]:
    out = {"t2w": sitk.ReadImage(row["mr_t2w"]), "t1w": sitk.ReadImage(row["mr_t1w"])}
    tissues = sitk.ReadImage(row["mr_tissues"])
    for k in range(n_random):
        arr = random_contrast(sitk.GetArrayFromImage(tissues), rng, slice_axis=0) * 1000.0
        img = sitk.GetImageFromArray(arr.astype(np.float32))
        img.CopyInformation(tissues)
        out[f"random{k}"] = img
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--random-contrasts", type=int, default=1)
    ap.add_argument("--cases", type=int, default=None)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    rows = read_manifest(args.manifest)[: args.cases]
    results: dict = {}
    for spec in args.models:
        model = load_model(resolve(spec), "auto")
        name = model.card["name"]
        per: dict[str, list[dict]] = {}
        t0 = time.perf_counter()
        for row in rows:
            ref = sitk.ReadImage(row["ct_mrworld"])
            rng = np.random.default_rng(zlib.crc32(row["subject"].encode()))  # same contrasts in every run
            for contrast, mr in inputs_for(row, args.random_contrasts, rng).items():
                res = translate_image(model, mr, steps=args.steps, eta=0.0, seed=0)
                pred = sitk.Resample(res.sct_iso, ref, sitk.Transform(), sitk.sitkLinear, -1024.0, sitk.sitkFloat32, True)
                m = image_metrics(sitk.GetArrayFromImage(pred), sitk.GetArrayFromImage(ref).astype(np.float32))
                per.setdefault("random" if contrast.startswith("random") else contrast, []).append(m)
        summary = {c: {k: float(np.mean([r[k] for r in v])) for k in v[0]} for c, v in per.items()}
        results[name] = {"cases": len(rows), "steps": args.steps, "seconds": time.perf_counter() - t0, **summary}
        for c, m in summary.items():
            print(f"{name:18s} {c:7s} MAE body {m['mae_body_hu']:6.1f} HU  PSNR {m['psnr_body_db']:5.2f} dB  "
                  f"SSIM {m['ssim_body']:.3f}  MAE bone {m['mae_bone_hu']:6.1f} HU", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
