"""``mrtoct phantom``: write a cohort of paired synthetic spine MR/CT cases and its manifest."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from SpineCoreLib.phantom import PhantomOptions, generate_cohort
from SpineCoreLib.phantom.case import estimate_case_bytes
from SpineCoreLib.phantom.figure import montage
from SpineCoreLib.validation import check_memory, output_folder, output_path

from .errors import CLIError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("phantom", help="generate paired synthetic spine MR/CT cases with ground truth")
    p.add_argument("--out", required=True, help="output folder (must be empty unless --overwrite)")
    p.add_argument("--cases", type=int, default=1, help="number of cases (default 1)")
    p.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives identical files")
    p.add_argument("--levels", default="L1-L5", help="vertebral levels, e.g. T12-L5 or L1,L2,L3 (default L1-L5)")
    p.add_argument("--ct-spacing", type=float, default=2.0, help="isotropic CT spacing in mm (default 2)")
    p.add_argument("--mr-spacing", default="1,1,3",
                   help="MR spacing in mm as AP,SI,LR: in-plane, in-plane, slice thickness (default 1,1,3)")
    p.add_argument("--split", choices=("train", "val", "test"), default=None,
                   help="put every case in this split (default: 7/1/2 of every 10 cases)")
    p.add_argument("--no-curvature-change", action="store_true",
                   help="MR and CT differ by the global rigid motion only")
    p.add_argument("--extra-contrasts", default="", help="more MR contrasts to write, e.g. pdw,stir")
    p.add_argument("--figure", default=None, help="also write a mid-sagittal montage of the first case (PNG)")
    p.add_argument("--overwrite", action="store_true", help="write into a non-empty output folder")
    p.set_defaults(run=run)


def parse_options(args: argparse.Namespace) -> PhantomOptions:
    """Validate every argument before anything is written; raise CLIError naming the fix."""
    from SpineCoreLib.levels import parse_level_range
    from SpineCoreLib.phantom.tissues import SEQUENCES

    if args.cases < 1:
        raise CLIError(f"--cases must be at least 1 (got {args.cases})")
    try:
        levels = parse_level_range(args.levels)
    except ValueError as exc:
        raise CLIError(f"--levels: {exc}") from exc
    if not 0.1 <= args.ct_spacing <= 10:  # also refuses NaN
        raise CLIError(f"--ct-spacing must be between 0.1 and 10 mm (got {args.ct_spacing})")
    try:
        mr = tuple(float(v) for v in args.mr_spacing.split(","))
    except ValueError as exc:
        raise CLIError(f"--mr-spacing must be three numbers like 1,1,3 (got {args.mr_spacing!r})") from exc
    if len(mr) != 3 or not all(0.1 <= v <= 10 for v in mr):
        raise CLIError(f"--mr-spacing must be three numbers between 0.1 and 10 mm like 1,1,3 (got {args.mr_spacing!r})")
    extra = tuple(c.strip().lower() for c in args.extra_contrasts.split(",") if c.strip())
    unknown = [c for c in extra if c not in SEQUENCES or c in ("t1w", "t2w")]
    if unknown:
        raise CLIError(f"--extra-contrasts: unknown {unknown}; choose from pdw, stir")
    out = output_folder(args.out, "--out", parents=True)
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise CLIError(f"--out {out} is not empty: choose an empty folder or add --overwrite")
    if args.figure and not str(args.figure).lower().endswith(".png"):
        raise CLIError(f"--figure must name a .png file (got {args.figure!r})")
    if args.figure:
        output_path(args.figure, "--figure")
    opts = PhantomOptions(levels=levels, ct_spacing=args.ct_spacing, mr_spacing=mr,
                          curvature_change=not args.no_curvature_change, extra_contrasts=extra)
    check_memory(estimate_case_bytes(opts), "--ct-spacing/--mr-spacing", "one case at these spacings",
                 "choose coarser spacings")
    return opts


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    opts = parse_options(args)
    start = time.perf_counter()
    with tqdm(total=args.cases, desc="phantom cases", unit="case") as bar:
        manifest = generate_cohort(args.out, args.cases, args.seed, opts, split=args.split,
                                   progress=lambda done, total: bar.update(1))
    elapsed = time.perf_counter() - start
    print(f"wrote {args.cases} case(s) and {manifest} in {elapsed:.1f} s")
    if args.figure:
        from SpineCoreLib.manifest import read_manifest

        first = Path(read_manifest(manifest)[0]["truth"]).parent
        Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
        print(f"wrote {montage(first, args.figure)}")
    return 0
