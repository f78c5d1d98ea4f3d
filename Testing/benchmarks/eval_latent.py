"""Held-out metrics of a multi-target latent model, per target, next to a single-target model.

Run: ``python Testing/benchmarks/eval_latent.py --manifest data/test8x/manifest.csv
--model latent3d-multitarget --compare ddim3d-default --cases 4 --steps 20 [--json out.json]
[--write-card]`` on a test cohort made with ``--extra-contrasts pdw,stir``.

Every case's T1w and T2w MR is translated to every other target the model has. CT is scored
against the phantom's CT in the MR world with the project's image metrics (HU; MAE, PSNR with a
2000 HU range and SSIM inside the body). An MR target is scored against the case's own image of
that contrast on the same percentile scale the model writes (arbitrary units 0..1000): MAE, PSNR
and SSIM with a 1000-unit range, inside the same body mask. The comparison model (a CT-only
model) is run on the same cases and inputs. Two baselines are scored the same way, so that the
numbers mean something: for CT a constant 40 HU inside the body (-1024 outside), for an MR target
the source MR itself, unchanged, on the same 0..1000 scale. Finally the time and peak memory of
one translation (T2w to CT, in a child process) are measured.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import SimpleITK as sitk
from eval_models import mean_rows, write_held_out  # this folder (run as a script)

from mrtoct.bench import measure_translation
from MRtoCTTranslationLib.latent.modalities import MR_UNITS
from MRtoCTTranslationLib.models.registry import resolve
from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.translator import load_model, translate_image
from SpineCoreLib.manifest import read_manifest
from SpineCoreLib.metrics import body_mask, image_metrics, mae, psnr, ssim

SOURCES = ("t1w", "t2w")


def mr_metrics(pred: np.ndarray, ref_raw: np.ndarray, modality, body: np.ndarray) -> dict[str, float]:
    """MAE/PSNR/SSIM of a synthetic MR against the real one, both on the model's 0..1000 scale."""
    ref = modality.from_values(modality.to_values_and_pad(ref_raw)[0])
    return {"mae_body": mae(pred, ref, body), "psnr_body_db": psnr(pred, ref, body, MR_UNITS),
            "ssim_body": ssim(pred, ref, body, MR_UNITS)}


def baselines(ct: np.ndarray, body: np.ndarray, src_on_ct: np.ndarray, src_modality, ref_mr: np.ndarray | None,
              target_modality) -> dict[str, float]:
    """The trivial answer for a target: a constant 40 HU body for CT, the unchanged source for an MR."""
    if ref_mr is None:
        return image_metrics(np.where(body, 40.0, -1024.0).astype(np.float32), ct)
    src = src_modality.from_values(src_modality.to_values_and_pad(src_on_ct)[0])
    return mr_metrics(src, ref_mr, target_modality, body)


def translate_on(ref: sitk.Image, model, mr: sitk.Image, steps: int, target: str | None, background: float):
    res = translate_image(model, mr, TranslationOptions(steps=steps, eta=0.0, seed=0, target=target))
    out = sitk.Resample(res.image_iso, ref, sitk.Transform(), sitk.sitkLinear, background, sitk.sitkFloat32, True)
    return sitk.GetArrayFromImage(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--model", default="latent3d-multitarget")
    ap.add_argument("--compare", nargs="*", default=["ddim3d-default"])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--cases", type=int, default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--write-card", action="store_true", help="store the results as metrics.held_out in model.json")
    args = ap.parse_args()
    rows = read_manifest(args.manifest)[: args.cases]
    folder = resolve(args.model)
    model = load_model(folder, "cpu")
    per: dict[str, list[dict]] = {}
    base: dict[str, list[dict]] = {}
    t0 = time.perf_counter()
    for row in rows:
        ct_ref = sitk.ReadImage(row["ct_mrworld"])
        ct = sitk.GetArrayFromImage(ct_ref).astype(np.float32)
        body = body_mask(ct)
        for src in SOURCES:
            mr = sitk.ReadImage(row[f"mr_{src}"])
            src_on_ct = sitk.GetArrayFromImage(sitk.Resample(mr, ct_ref, sitk.Transform(), sitk.sitkLinear, 0.0,
                                                             sitk.sitkFloat32))
            src_modality = next(m for m in model.modalities if m.key == src)
            for m in model.modalities:
                if m.key == src:
                    continue
                if m.is_ct:
                    pred = translate_on(ct_ref, model, mr, args.steps, m.name, -1024.0)
                    scores = image_metrics(pred, ct)
                    base.setdefault(f"{src}->{m.name}", []).append(
                        baselines(ct, body, src_on_ct, src_modality, None, m))
                else:
                    # the real MR of that contrast, on the CT-in-MR-world grid like the body mask
                    ref_img = sitk.Resample(sitk.ReadImage(row[m.column]), ct_ref, sitk.Transform(),
                                            sitk.sitkLinear, 0.0, sitk.sitkFloat32)
                    pred = translate_on(ct_ref, model, mr, args.steps, m.name, 0.0)
                    ref_arr = sitk.GetArrayFromImage(ref_img).astype(np.float32)
                    scores = mr_metrics(pred, ref_arr, m, body)
                    base.setdefault(f"{src}->{m.name}", []).append(
                        baselines(ct, body, src_on_ct, src_modality, ref_arr, m))
                per.setdefault(f"{src}->{m.name}", []).append(scores)
        print(f"{row['subject']} done ({time.perf_counter() - t0:.0f} s)", flush=True)
    summary = mean_rows(per)
    results: dict = {args.model: {"cases": len(rows), "steps": args.steps, "seconds": time.perf_counter() - t0,
                                  **summary}}
    results["baseline (CT: constant 40 HU; MR: the source unchanged)"] = mean_rows(base)
    for spec in args.compare:
        other = load_model(resolve(spec), "cpu")
        rows_c: dict[str, list[dict]] = {}
        for row in rows:
            ct_ref = sitk.ReadImage(row["ct_mrworld"])
            for src in SOURCES:
                pred = translate_on(ct_ref, other, sitk.ReadImage(row[f"mr_{src}"]), args.steps, None, -1024.0)
                rows_c.setdefault(f"{src}->CT", []).append(
                    image_metrics(pred, sitk.GetArrayFromImage(ct_ref).astype(np.float32)))
        results[other.name] = mean_rows(rows_c)
    cost = measure_translation(rows[0]["mr_t2w"], str(folder), args.steps, "CT")
    results[args.model]["one_translation"] = {"input": "first case, T2w to CT", **cost}
    for name, res in results.items():
        for key, m in res.items():
            if isinstance(m, dict) and "ssim_body" in m:
                unit = "HU" if key.endswith("CT") else "au"
                err = m.get("mae_body_hu", m.get("mae_body"))
                print(f"{name[:22]:22s} {key:10s} MAE body {err:6.1f} {unit}  PSNR {m['psnr_body_db']:5.2f} dB  "
                      f"SSIM {m['ssim_body']:.3f}", flush=True)
    print(f"one translation (T2w to CT, {args.steps} steps): {cost['seconds']:.1f} s, peak RSS "
          f"{cost['peak_rss_mb']:.0f} MB ({cost['baseline_rss_mb']:.0f} MB before translating)")
    if args.write_card:
        write_held_out(folder, args.manifest, len(rows), args.steps, summary,
                       reference="CT: ct_mrworld in HU; MR: the case's own image on the model's 0..1000 "
                                 "percentile scale")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
