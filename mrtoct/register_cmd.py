"""``mrtoct register``: landmark registration of one pair, or of a whole manifest cohort."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

import SimpleITK as sitk

from .errors import CLIError
from .inputs import read_image
from .outputs import check_outputs


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "register",
        help="register moving landmarks onto fixed ones by name (one pair, or a manifest cohort: CT onto MR)",
        description="Transforms are written in ITK's convention: they map fixed-space points to moving-space "
        "points, so they resample the moving image onto the fixed one (what Slicer writes and reads for the "
        "transform a moving volume is put under).",
    )
    p.add_argument("--mode", default="rigid", choices=("rigid", "similarity", "affine", "piecewise"))
    one = p.add_argument_group("one pair")
    one.add_argument("--fixed-landmarks", help="fixed (e.g. MR) landmarks, .mrk.json or .csv")
    one.add_argument("--moving-landmarks", help="moving (e.g. CT) landmarks, .mrk.json or .csv")
    one.add_argument("--output-transform", help="transform file to write (.h5 or .tfm)")
    one.add_argument("--report", help="quality report JSON to write")
    one.add_argument("--fixed", help="fixed image: the grid to resample onto")
    one.add_argument("--moving", help="moving image to resample")
    one.add_argument("--output-moving", help="resampled moving image to write")
    one.add_argument("--moving-labels", help="moving label map to resample (nearest neighbour)")
    one.add_argument("--output-labels", help="resampled label map to write")
    one.add_argument("--interpolation", default="linear", choices=("linear", "bspline"))
    one.add_argument("--default-value", type=float, default=None,
                     help="value outside the moving image (default -1024 for CT-like images, else 0)")
    many = p.add_argument_group("a cohort")
    many.add_argument("--manifest", help="manifest.csv whose rows have mr_landmarks, ct_landmarks, ct and an MR")
    many.add_argument("--out", help="output folder for the registered pairs and their manifest.csv")
    many.add_argument("--spacing", type=float, default=None, help="export both images on an isotropic grid (mm)")
    many.add_argument("--overwrite", action="store_true", help="write into a non-empty output folder")
    p.set_defaults(run=run)


def _read_landmarks(path: str, role: str):
    from SpineCoreLib.validation import markups_file

    return markups_file(path, f"--{role}-landmarks")


def run_pair(args: argparse.Namespace) -> int:
    from SpineCoreLib.atomic_io import write_images, write_json
    from SpineCoreLib.geometry import Grid
    from SpineCoreLib.resample import NoOverlapError, resample
    from SpineLandmarkRegistrationLib.pair_export import write_transform
    from SpineLandmarkRegistrationLib.register import register

    if not (args.fixed_landmarks and args.moving_landmarks and args.output_transform):
        raise CLIError("give --fixed-landmarks, --moving-landmarks and --output-transform (or --manifest and --out)")
    if bool(args.moving) != bool(args.output_moving) or bool(args.moving_labels) != bool(args.output_labels):
        raise CLIError("--moving needs --output-moving, and --moving-labels needs --output-labels")
    if (args.moving or args.moving_labels) and not args.fixed:
        raise CLIError("resampling needs --fixed, the image whose grid to resample onto")
    check_outputs({"--output-transform": args.output_transform, "--report": args.report,
                   "--output-moving": args.output_moving, "--output-labels": args.output_labels},
                  [args.fixed_landmarks, args.moving_landmarks, args.fixed, args.moving, args.moving_labels])
    if not args.output_transform.lower().endswith((".tfm", ".txt", ".h5", ".hdf5", ".mat")):
        raise CLIError(f"--output-transform {args.output_transform}: an ITK transform file ends in .tfm, .txt, .h5, "
                       ".hdf5 or .mat")
    fixed_lm = _read_landmarks(args.fixed_landmarks, "fixed")
    moving_lm = _read_landmarks(args.moving_landmarks, "moving")
    fixed = read_image(args.fixed, "--fixed") if args.fixed else None
    moving = read_image(args.moving, "--moving") if args.moving else None
    labels = read_image(args.moving_labels, "--moving-labels", "labels") if args.moving_labels else None
    try:
        reg = register(fixed_lm, moving_lm, args.mode)
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    domain = Grid.from_image(fixed) if fixed is not None else None
    report = reg.report.to_json()
    outputs = {}
    itk = reg.transform.to_sitk(domain)
    try:  # resample in memory first, so a failure writes nothing
        if moving is not None:
            stats = sitk.MinimumMaximumImageFilter()
            stats.Execute(moving)
            default = args.default_value if args.default_value is not None else (-1024.0 if stats.GetMinimum() < -500 else 0.0)
            outputs[args.output_moving] = resample(moving, domain, itk, args.interpolation,
                                                   default)
        if labels is not None:
            outputs[args.output_labels] = resample(labels, domain, itk, "nearest", 0)
    except NoOverlapError as exc:
        raise CLIError(str(exc)) from exc
    write_images(outputs)  # the images together, then the transform and the report
    write_transform(itk, args.output_transform)
    if args.report:
        write_json(args.report, report)
    print(f"{args.mode} registration of {len(reg.report.matched)} landmark pairs: RMS {reg.report.rms_mm:.2f} mm")
    for w in reg.report.warnings:
        print(f"warning: {w}")
    print(json.dumps({"rms_mm": report["rms_mm"], "unmatched": report["unmatched"]}))
    return 0


def run_manifest(args: argparse.Namespace) -> int:
    from SpineCoreLib.manifest import write_manifest
    from SpineCoreLib.validation import output_folder

    if not args.out:
        raise CLIError("--manifest needs --out, the folder for the registered pairs")
    if args.spacing is not None and not 0.1 <= args.spacing <= 10:  # also refuses NaN
        raise CLIError(f"--spacing must be between 0.1 and 10 mm (got {args.spacing})")
    out = output_folder(args.out, "--out")
    if out.is_dir() and any(out.iterdir()) and not args.overwrite:
        raise CLIError(f"--out {out} is not empty: choose an empty folder or add --overwrite")
    rows = _checked_rows(args.manifest)
    staging = Path(tempfile.mkdtemp(prefix=".register-", dir=out.parent))  # moved into --out once all succeeded
    try:
        results = _register_rows(rows, args, staging)
        out.mkdir(exist_ok=True)
        for r in results:
            target = out / r["subject"]
            if target.exists():
                shutil.rmtree(target)
            os.replace(staging / r["subject"], target)
        rows_out = [{k: v.replace(str(staging), str(out)) for k, v in r.items()} for r in results]
        manifest = write_manifest(out / "manifest.csv", rows_out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"wrote {len(results)} registered pair(s) and {manifest}")
    return 0


def _checked_rows(manifest: str) -> list[dict]:
    """The manifest's rows after checking, before any work, that each names readable files."""
    from SpineCoreLib.manifest import read_manifest
    from SpineCoreLib.validation import complete_gzip, existing_file, markups_file

    existing_file(manifest, "--manifest")
    try:
        rows = read_manifest(manifest)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(f"--manifest: {exc}") from exc
    if not rows:
        raise CLIError(f"--manifest {manifest} has no rows: list one case a row")
    for row in rows:
        missing = [c for c in ("mr_landmarks", "ct_landmarks", "ct") if not row.get(c)]
        if missing or not (row.get("mr_t2w") or row.get("mr_t1w")):
            raise CLIError(f"--manifest: row {row.get('subject')!r} lacks {missing or ['mr_t1w or mr_t2w']}")
        where = f"--manifest row {row.get('subject')!r}"
        for column in ("mr_landmarks", "ct_landmarks"):
            markups_file(row[column], f"{where} {column}")
        for column in ("mr_t2w", "mr_t1w", "mr_seg", "ct", "ct_seg"):
            if row.get(column):
                complete_gzip(existing_file(row[column], f"{where} {column}"), f"{where} {column}")
    return rows


def _register_rows(rows: list[dict], args: argparse.Namespace, out: Path) -> list[dict]:
    from tqdm import tqdm

    from SpineCoreLib.markups_io import read_markups_json
    from SpineCoreLib.resample import NoOverlapError
    from SpineLandmarkRegistrationLib.pair_export import PairSpec, export_pair
    from SpineLandmarkRegistrationLib.register import register

    results = []
    for row in tqdm(rows, desc="registering", unit="case"):
        try:
            reg = register(read_markups_json(row["mr_landmarks"]), read_markups_json(row["ct_landmarks"]), args.mode)
        except ValueError as exc:
            raise CLIError(f"{row['subject']}: {exc}") from exc
        fixed = {k: sitk.ReadImage(row[k]) for k in ("mr_t2w", "mr_t1w", "mr_seg") if row.get(k)}
        moving = {"ct_mrworld": sitk.ReadImage(row["ct"])}
        if row.get("ct_seg"):
            moving["ct_mrworld_seg"] = sitk.ReadImage(row["ct_seg"])
        spec = PairSpec(fixed, moving, labels={"mr_seg", "ct_mrworld_seg"}, moving_default={"ct_mrworld": -1024.0})
        try:
            files = export_pair(spec, reg.transform, out, row["subject"], spacing=args.spacing,
                                extra=reg.report.to_json())
        except NoOverlapError as exc:
            raise CLIError(f"{row['subject']}: {exc}") from exc
        results.append({"subject": row["subject"], "split": row.get("split", ""),
                        **{k: str(v) for k, v in files.items() if k not in ("transform", "registration")},
                        "mr_landmarks": row["mr_landmarks"]})
        print(f"{row['subject']}: RMS {reg.report.rms_mm:.2f} mm" +
              "".join(f"\n  warning: {w}" for w in reg.report.warnings))
    return results


def run(args: argparse.Namespace) -> int:
    if args.manifest:
        return run_manifest(args)
    return run_pair(args)
