"""``mrtoct evaluate``: a synthetic CT against a reference CT, optionally with vertebra labels."""

from __future__ import annotations

import argparse
import math

from SpineCoreLib.validation import check_overlap

from .errors import CLIError
from .inputs import add_input_kind, read_image
from .outputs import check_outputs


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="image metrics and vertebra Dice of a synthetic CT against a CT")
    p.add_argument("--pred", required=True, help="synthetic CT (HU); resampled onto --ref's grid if needed")
    p.add_argument("--ref", required=True, help="reference CT (HU)")
    p.add_argument("--pred-seg", default=None, help="vertebra labels of the synthetic CT (VerSe IDs)")
    p.add_argument("--ref-seg", default=None, help="reference vertebra labels (VerSe IDs)")
    p.add_argument("--levels", default=None, help="score only these reference levels, e.g. L1-L5")
    p.add_argument("--mask", default=None, help="label image of the region to score (any non-zero voxel), e.g. a "
                   "SynthRAD mask; default: the reference's body (project) or the whole image (synthrad)")
    p.add_argument("--protocol", nargs="+", choices=("project", "synthrad"), default=["project"],
                   help="project: MAE/PSNR/SSIM in a 2000 HU range inside the body and dilated bone; synthrad: "
                        "the SynthRAD challenge's definitions ([-1024, 3000] HU, its masked SSIM); both can be given")
    p.add_argument("--json", default=None, help="write the results table as JSON")
    p.add_argument("--csv", default=None, help="write the results table as CSV")
    p.add_argument("--figure", default=None, help="write a PNG: mid-sagittal error and HU histograms")
    add_input_kind(p)
    p.set_defaults(run=run)


def _levels(text: str | None) -> list[str] | None:
    from SpineCoreLib.levels import parse_level_range

    if text is None:
        return None
    try:
        return parse_level_range(text)
    except ValueError as exc:
        raise CLIError(f"--levels: {exc}") from exc


def _fmt(v: float, spec: str) -> str:
    return format(v, spec) if math.isfinite(v) else str(v)


def summary(result: dict) -> list[str]:
    """Short human-readable lines of an evaluation result."""
    m, lines = result["image"], []
    if m:
        lines += [f"body: MAE {_fmt(m['mae_body_hu'], '.1f')} HU, PSNR {_fmt(m['psnr_body_db'], '.2f')} dB, "
                  f"SSIM {_fmt(m['ssim_body'], '.3f')}",
                  f"bone: MAE {_fmt(m['mae_bone_hu'], '.1f')} HU, PSNR {_fmt(m['psnr_bone_db'], '.2f')} dB, "
                  f"SSIM {_fmt(m['ssim_bone'], '.3f')}"]
    s = result.get("synthrad")
    if s:
        lines.append(f"synthrad protocol: MAE {_fmt(s['mae_hu'], '.1f')} HU, PSNR {_fmt(s['psnr_db'], '.2f')} dB, "
                     f"SSIM {_fmt(s['ssim'], '.3f')}")
    seg = result.get("segmentation")
    if seg:
        per = ", ".join(f"{lv} {_fmt(d['strict'], '.2f')}/{_fmt(d['shift_tolerant'], '.2f')}"
                        for lv, d in seg["levels"].items())
        lines.append(f"Dice strict/shift-tolerant: {per or 'no reference vertebrae'}")
        lines.append(f"mean Dice strict {_fmt(seg['mean_dice_strict'], '.3f')}, "
                     f"shift-tolerant {_fmt(seg['mean_dice_shift_tolerant'], '.3f')}, "
                     f"binary {_fmt(seg['binary_dice'], '.3f')}")
    return lines


def run(args: argparse.Namespace) -> int:
    from SpineCoreLib.evaluation import evaluate, on_grid, write_rows_csv, write_rows_json

    if (args.pred_seg is None) != (args.ref_seg is None):
        raise CLIError("give both --pred-seg and --ref-seg, or neither")
    levels = _levels(args.levels)
    check_outputs({"--json": args.json, "--csv": args.csv, "--figure": args.figure},
                  [args.pred, args.ref, args.pred_seg, args.ref_seg, args.mask])
    pred, ref = read_image(args.pred, "--pred", "ct", args.input_kind), \
        read_image(args.ref, "--ref", "ct", args.input_kind)
    pred_seg = read_image(args.pred_seg, "--pred-seg", "labels") if args.pred_seg else None
    ref_seg = read_image(args.ref_seg, "--ref-seg", "labels") if args.ref_seg else None
    check_overlap(ref, pred, "--ref", "--pred")
    mask = read_image(args.mask, "--mask", "labels") if args.mask else None
    if mask is not None:
        check_overlap(mask, ref, "--mask", "--ref")
    try:
        result = evaluate(pred, ref, pred_seg, ref_seg, levels, mask, tuple(args.protocol))
    except (ValueError, RuntimeError) as exc:
        raise CLIError(str(exc).strip().splitlines()[-1]) from exc
    rows = result["rows"]
    if args.json:
        write_rows_json(args.json, rows)
    if args.csv:
        write_rows_csv(args.csv, rows)
    if args.figure:
        from SpineCoreLib.evaluation.figure import evaluation_figure

        evaluation_figure(on_grid(pred, ref), ref, args.figure, title=summary(result)[0])
    print("\n".join(summary(result)))
    return 0
