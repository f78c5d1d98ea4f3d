"""Held-out metrics of translation models on a phantom test cohort.

Run: ``python Testing/benchmarks/eval_models.py --manifest data/test8/manifest.csv --models ddim3d-default
[more names or folders] [--steps 20] [--random-contrasts 1] [--json out.json]``.

For every test case the MR (T2w, T1w and, optionally, random contrasts re-synthesised from the
tissue map, which no model saw in training) is translated, and the synthetic CT on the model grid
is compared with the phantom's CT in the MR world (``ct_mrworld``): MAE in HU inside the body,
PSNR with a fixed 2000 HU range, SSIM (3D), and MAE inside a dilated bone mask. With
``--segment`` every synthetic CT (and, once per case, the phantom's own CT) is also segmented by
the built-in segmenter seeded by the MR landmarks, and scored per vertebra against the phantom's
labels: strict and shift-tolerant Dice.
"""

from __future__ import annotations

import argparse
import json
import time
import zlib

import numpy as np
import SimpleITK as sitk

from MRtoCTTranslationLib.models.card import read_card, write_card
from MRtoCTTranslationLib.models.registry import resolve
from MRtoCTTranslationLib.options import TranslationOptions
from MRtoCTTranslationLib.training.contrast import random_contrast
from MRtoCTTranslationLib.translator import load_model, translate_image
from SpineCoreLib.evaluation.dice import segmentation_metrics
from SpineCoreLib.manifest import read_manifest
from SpineCoreLib.markups_io import read_markups_json
from SpineCoreLib.metrics import image_metrics
from SpineCoreLib.segmentation import segment_vertebrae


def inputs_for(row: dict[str, str], n_random: int, rng: np.random.Generator) -> dict[str, sitk.Image]:
    out = {"t2w": sitk.ReadImage(row["mr_t2w"]), "t1w": sitk.ReadImage(row["mr_t1w"])}
    tissues = sitk.ReadImage(row["mr_tissues"])
    for k in range(n_random):
        arr = random_contrast(sitk.GetArrayFromImage(tissues), rng, slice_axis=0) * 1000.0
        img = sitk.GetImageFromArray(arr.astype(np.float32))
        img.CopyInformation(tissues)
        out[f"random{k}"] = img
    return out


def on_grid(res, ref: sitk.Image, mr: sitk.Image, grid: str) -> tuple[sitk.Image, sitk.Image]:
    """(synthetic CT, reference CT) on the reference's grid, or both on the MR's grid."""
    if grid == "mr":
        truth = sitk.Resample(ref, mr, sitk.Transform(), sitk.sitkLinear, -1024.0, sitk.sitkFloat32)
        return sitk.Cast(res.image, sitk.sitkFloat32), truth
    pred = sitk.Resample(res.image_iso, ref, sitk.Transform(), sitk.sitkLinear, -1024.0, sitk.sitkFloat32, True)
    return pred, ref


def mean_rows(per: dict[str, list[dict[str, float]]]) -> dict[str, dict[str, float]]:
    """Per key, the mean of each metric over its rows."""
    return {c: {k: float(np.mean([r[k] for r in v])) for k in v[0]} for c, v in per.items()}


def rounded(summary: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Every metric of a summary to 3 decimals, as cards store them."""
    return {c: {k: round(v, 3) for k, v in m.items()} for c, m in summary.items()}


def write_held_out(folder, manifest: str, n_cases: int, steps: int, summary: dict, **notes: object) -> None:
    """Store held-out results as ``metrics.held_out`` in a model's card (atomically)."""
    card = read_card(folder)
    windows = card.inference_defaults.to_json()
    held_out = {
        "cohort": f"phantom test cohort {manifest.split('/')[-2]}, first {n_cases} cases",
        "sampling": {"steps": steps, "eta": 0.0, "seed": 0,  # and the card's own windows
                     **{k: v for k, v in windows.items() if k in ("window", "overlap")}},
        **{k: v for k, v in notes.items() if k == "reference"},
        **rounded(summary),
        **{k: v for k, v in notes.items() if k != "reference"},
    }
    write_card(folder, card.with_metrics(held_out=held_out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--random-contrasts", type=int, default=1)
    ap.add_argument("--cases", type=int, default=None)
    ap.add_argument("--json", default=None)
    ap.add_argument("--segment", action="store_true", help="also segment and report Dice")
    ap.add_argument("--grid", choices=("reference", "mr"), default="reference",
                    help="compare on the reference CT's grid (default) or on the MR's own grid (what a user "
                    "sees: models of different spacings compare there on equal terms)")
    ap.add_argument("--write-cards", nargs="*", default=None, metavar="NAME",
                    help="store the results as metrics.held_out in the model.json of the named models (no "
                    "names: every model of --models)")
    args = ap.parse_args()
    rows = read_manifest(args.manifest)[: args.cases]
    results: dict = {}
    written: list[tuple[str, str, object, dict]] = []  # (spec, name, folder, summary) of every model

    def dice_of(image: sitk.Image, row: dict, grid: sitk.Image | None = None) -> dict[str, float]:
        ref_img = sitk.ReadImage(row["ct_mrworld_seg"])
        if grid is not None:
            ref_img = sitk.Resample(ref_img, grid, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
        ref_seg = sitk.GetArrayFromImage(ref_img)
        seg = segment_vertebrae(image, "builtin", landmarks=read_markups_json(row["mr_landmarks"]))
        levels = json.loads(open(row["truth"]).read())["levels"]  # the case's levels, not partly visible ones
        d = segmentation_metrics(sitk.GetArrayFromImage(seg), ref_seg, levels)
        return {"dice_strict": d["mean_dice_strict"], "dice_shift_tolerant": d["mean_dice_shift_tolerant"]}

    if args.segment:
        per_ct = [dice_of(sitk.ReadImage(r["ct_mrworld"]), r) for r in rows]
        results["phantom_ct_builtin_segmentation"] = {k: float(np.mean([d[k] for d in per_ct])) for k in per_ct[0]}
        print("phantom CT, built-in segmentation:", results["phantom_ct_builtin_segmentation"], flush=True)
    for spec in args.models:
        folder = resolve(spec)
        model = load_model(folder, "auto")
        name = model.name
        per: dict[str, list[dict]] = {}
        t0 = time.perf_counter()
        for row in rows:
            ref = sitk.ReadImage(row["ct_mrworld"])
            rng = np.random.default_rng(zlib.crc32(row["subject"].encode()))  # same contrasts in every run
            for contrast, mr in inputs_for(row, args.random_contrasts, rng).items():
                steps = None if model.card.kind == "syndiff" else args.steps  # SynDiff: its trained steps only
                res = translate_image(model, mr, TranslationOptions(steps=steps, eta=0.0, seed=0))
                pred, truth = on_grid(res, ref, mr, args.grid)
                m = image_metrics(sitk.GetArrayFromImage(pred), sitk.GetArrayFromImage(truth).astype(np.float32))
                if args.segment:
                    m |= dice_of(pred, row, truth)
                per.setdefault("random" if contrast.startswith("random") else contrast, []).append(m)
        summary = mean_rows(per)
        results[name] = {"cases": len(rows), "steps": args.steps, "seconds": time.perf_counter() - t0, **summary}
        written.append((spec, name, folder, summary))
        for c, m in summary.items():
            dice = (f"  Dice {m['dice_strict']:.3f} strict / {m['dice_shift_tolerant']:.3f} shift-tolerant"
                    if "dice_strict" in m else "")
            print(f"{name:18s} {c:7s} MAE body {m['mae_body_hu']:6.1f} HU  PSNR {m['psnr_body_db']:5.2f} dB  "
                  f"SSIM {m['ssim_body']:.3f}  MAE bone {m['mae_bone_hu']:6.1f} HU{dice}", flush=True)
    for spec, name, folder, summary in written:
        if args.write_cards is None or (args.write_cards and not {spec, name} & set(args.write_cards)):
            continue
        others = {n: rounded(s) for _, n, _, s in written if n != name}
        write_held_out(folder, args.manifest, len(rows), args.steps, summary,
                       reference="ct_mrworld (the phantom CT rendered in the MR world)",
                       grid="the MR's own grid" if args.grid == "mr" else "the reference CT's grid",
                       random_note="random = a contrast re-synthesised from the tissue map (a new one per case)",
                       **({"compared_with": others} if others else {}))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
