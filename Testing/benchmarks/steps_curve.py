"""Quality against sampling steps for each bundled diffusion model, and the default steps it sets.

Run: ``python Testing/benchmarks/steps_curve.py --manifest data/test8x/manifest.csv --cases 4
[--models ddim3d-default ...] [--json out.json] [--write-cards]`` (test cohort: ``mrtoct phantom --out
data/test8x --cases 8 --seed 900 --extra-contrasts pdw,stir``).

For every held-out case, T2w and T1w input (and, for a latent model, every target), the MR is
translated at 2, 4, 6, 8, 12, 20 and 50 steps (eta 0, seed 0, the card's windows, precision auto),
and each result is compared on the CT-in-MR-world grid with the truth (CT: ``ct_mrworld`` in HU;
an MR target: the case's own image on the model's 0..1000 scale) and with the 50-step result:
PSNR, SSIM and MAE inside the body. ``--write-cards`` sets each card's ``inference_defaults.steps``
to the fewest steps within 0.3 dB PSNR and 0.01 SSIM of 20 steps in every input (and target)
(``evaluation.steps.fewest_steps_within``) and stores the curve as ``metrics.steps_curve``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np
import SimpleITK as sitk
from eval_latent import mr_metrics

from MRtoCTTranslationLib.latent.modalities import MR_UNITS
from MRtoCTTranslationLib.models.card import read_card, write_card
from MRtoCTTranslationLib.models.registry import list_models, resolve
from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.precision import choose_precision
from MRtoCTTranslationLib.translator import load_model, translate_image
from SpineCoreLib.evaluation.steps import (
    CURVE_STEPS,
    REFERENCE_STEPS,
    TOLERANCES,
    fewest_steps_within,
)
from SpineCoreLib.manifest import read_manifest
from SpineCoreLib.metrics import body_mask, mae, psnr, ssim

SOURCES = ("t2w", "t1w")


def sampled_models() -> list[str]:
    """Bundled models that sample in steps (Pix2Pix is one pass)."""
    return [e["name"] for e in list_models() if e.get("folder") and e.get("kind") not in ("pix2pix", None)]


def groups_of(model) -> list[tuple[str, str | None]]:
    """(input contrast, target) pairs to measure: CT for the image models, every other target for a latent one."""
    if model.kind != "latent":
        return [(src, None) for src in SOURCES]
    return [(src, m.name) for src in SOURCES for m in model.modalities if m.key != src]


def curve_for_case(model, row: dict, src: str, target: str | None, counts: list[int], prec) -> dict[int, dict]:
    """Metrics of each step count against the truth and against the most steps, for one case and input."""
    ct_ref = sitk.ReadImage(row["ct_mrworld"])
    ct = sitk.GetArrayFromImage(ct_ref).astype(np.float32)
    body = body_mask(ct)
    modality = next((m for m in model.modalities if m.name == target), None) if model.kind == "latent" else None
    is_ct = modality is None or modality.is_ct
    background = -1024.0 if is_ct else 0.0
    if is_ct:
        truth, data_range = ct, 2000.0
    else:
        raw = sitk.Resample(sitk.ReadImage(row[modality.column]), ct_ref, sitk.Transform(), sitk.sitkLinear, 0.0,
                            sitk.sitkFloat32)
        truth = modality.from_values(modality.to_values_and_pad(sitk.GetArrayFromImage(raw))[0])
        data_range = MR_UNITS
    mr = sitk.ReadImage(row[f"mr_{src}"])
    preds = {}
    for n in sorted(counts, reverse=True):
        res = translate_image(model, mr, TranslationOptions(steps=n, eta=0.0, seed=0, precision=prec.name, target=target))
        out = sitk.Resample(res.image_iso, ct_ref, sitk.Transform(), sitk.sitkLinear, background, sitk.sitkFloat32, True)
        preds[n] = sitk.GetArrayFromImage(out)
    most = preds[max(counts)]
    rows = {}
    for n, pred in preds.items():
        if is_ct:
            vs_truth = {"psnr_db": psnr(pred, truth, body, data_range), "mae": mae(pred, truth, body),
                        "ssim": ssim(pred, truth, body, data_range)}
        else:
            m = mr_metrics(pred, sitk.GetArrayFromImage(raw).astype(np.float32), modality, body)
            vs_truth = {"psnr_db": m["psnr_body_db"], "mae": m["mae_body"], "ssim": m["ssim_body"]}
        rows[n] = {**vs_truth, f"psnr_vs_{max(counts)}_db": psnr(pred, most, body, data_range),
                   f"mae_vs_{max(counts)}": mae(pred, most, body)}
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--models", nargs="+", default=None, help="default: every bundled model that samples in steps")
    ap.add_argument("--cases", type=int, default=4)
    ap.add_argument("--steps", type=int, nargs="+", default=list(CURVE_STEPS))
    ap.add_argument("--json", default=None)
    ap.add_argument("--write-cards", action="store_true")
    args = ap.parse_args()
    rows = read_manifest(args.manifest)[: args.cases]
    counts = sorted(set(args.steps) | {REFERENCE_STEPS})
    results = {}
    for spec in args.models or sampled_models():
        folder = resolve(spec)
        model = load_model(folder, "cpu")
        prec = choose_precision("auto", model.device)
        name, t0 = model.name, time.perf_counter()
        per: dict[str, dict[int, list[dict]]] = {}
        for row in rows:
            for src, target in groups_of(model):
                key = f"{src}->{target or 'CT'}"
                for n, m in curve_for_case(model, row, src, target, counts, prec).items():
                    per.setdefault(key, {}).setdefault(n, []).append(m)
            print(f"{name}: {row['subject']} done ({time.perf_counter() - t0:.0f} s)", flush=True)
        curves = {key: {str(n): {k: round(float(np.mean([r[k] for r in ms])), 3) for k in ms[0]}
                        for n, ms in sorted(by_n.items())} for key, by_n in per.items()}
        chosen = fewest_steps_within({key: {int(n): v for n, v in c.items()} for key, c in curves.items()})
        record = {"cohort": f"phantom test cohort {args.manifest.split('/')[-2]}, first {len(rows)} cases "
                            "(synthetic phantom, not patients)",
                  "sampling": {"eta": 0.0, "seed": 0, "precision": prec.name},
                  "rule": f"fewest steps within {TOLERANCES['psnr_db']} dB PSNR and {TOLERANCES['ssim']} SSIM "
                          f"(inside the body, against the truth) of {REFERENCE_STEPS} steps, for every input and target",
                  "chosen_steps": chosen, "curves": curves, "seconds": round(time.perf_counter() - t0)}
        results[name] = record
        for key, c in curves.items():
            line = "  ".join(f"{n}:{v['psnr_db']:.2f}/{v['ssim']:.3f}/{v['mae']:.1f}" for n, v in c.items())
            print(f"{name:22s} {key:10s} steps:PSNR dB/SSIM/MAE vs truth  {line}", flush=True)
        print(f"{name}: default steps {chosen} ({prec.name}, {record['seconds']} s)", flush=True)
        if args.write_cards:
            card = read_card(folder)
            card = card.replace(inference_defaults=dataclasses.replace(card.inference_defaults, steps=chosen))
            write_card(folder, card.with_metrics(steps_curve=record))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
