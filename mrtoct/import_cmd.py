"""``mrtoct import FORMAT SRC --out DIR``: a public dataset's layout as a manifest, nothing copied."""

from __future__ import annotations

import argparse
from pathlib import Path

from .errors import CLIError


def add_parser(sub: argparse._SubParsersAction) -> None:
    from SpineCoreLib.importers import FORMATS

    p = sub.add_parser("import", help="write a manifest for a dataset in a known layout (files are referred to, "
                                      "not copied)")
    p.add_argument("format", choices=sorted(FORMATS), help="the dataset's layout")
    p.add_argument("src", help="the dataset's folder")
    p.add_argument("--out", required=True, help="folder for manifest.csv")
    p.add_argument("--overwrite", action="store_true", help="replace an existing manifest.csv in --out")
    p.add_argument("--caudal-level", default=None, help="spider only: the level of SPIDER's vertebra 1, the "
                   "most caudal one (default L5; S1 or L6 for a transitional spine)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from SpineCoreLib.atomic_io import staged_folder
    from SpineCoreLib.importers import FORMATS
    from SpineCoreLib.levels import check_level
    from SpineCoreLib.manifest import write_manifest
    from SpineCoreLib.validation import InputError, output_folder

    src = Path(args.src)
    options = {}
    if args.caudal_level is not None:
        if args.format != "spider":
            raise CLIError(f"--caudal-level is for the spider format only, not {args.format}: leave it out")
        try:
            options["caudal_level"] = check_level(args.caudal_level)
        except ValueError as exc:
            raise CLIError(f"--caudal-level: {exc}") from exc
    if not src.is_dir():
        raise CLIError(f"SRC {src} is not a folder: give the dataset's folder")
    out = output_folder(args.out, "--out")
    manifest = out / "manifest.csv"
    if manifest.exists() and not args.overwrite:
        raise CLIError(f"--out {out} already holds manifest.csv: choose another folder or add --overwrite")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with staged_folder(out) as staging:  # point lists and manifest land in --out together, or not at all
            rows = FORMATS[args.format](src, staging, **options)
            write_manifest(staging / "manifest.csv", rows)
    except InputError as exc:
        raise CLIError(f"{args.format}: {exc}") from exc
    print(f"{len(rows)} subject(s) of {src} ({args.format}) listed in {manifest}")
    return 0
