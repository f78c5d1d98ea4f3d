"""``mrtoct landmarks``: propose body and spinous landmarks from a vertebra label map."""

from __future__ import annotations

import argparse
from pathlib import Path

from SpineCoreLib.validation import output_path

from .errors import CLIError
from .inputs import read_image


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "landmarks",
        help="propose <level>-body and <level>-spinous landmarks from a vertebra label map",
        description="Propose one vertebral-body centre and one spinous-process point per vertebra from a "
        "VerSe/TPTBox vertebra label map, as a Slicer markups file for an annotator to correct.",
    )
    p.add_argument("--labels", required=True, help="vertebra label map (VerSe/TPTBox IDs), e.g. ct_seg.nii.gz")
    p.add_argument("--out", required=True, help="markups file to write (.mrk.json)")
    p.add_argument("--subregions", default=None,
                   help="optional TPTBox/SPINEPS subregion map (corpus 50, spinous process 42)")
    p.add_argument("--levels", default=None, help="only these levels, e.g. L1-L5 or T12,L1 (default: all found)")
    p.add_argument("--coordinate-system", choices=("LPS", "RAS"), default="LPS",
                   help="coordinate system written in the markups file (default LPS, as Slicer writes)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.set_defaults(run=run)


def _read_label_image(path: str, option: str):

    from SpineLandmarkRegistrationLib.landmark_proposal import check_label_image

    p = Path(path)
    image = read_image(path, option)
    try:
        check_label_image(image, f"{option} {p}")
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    return image


def run(args: argparse.Namespace) -> int:
    from SpineCoreLib.levels import parse_level_range
    from SpineCoreLib.markups_io import write_markups_json
    from SpineLandmarkRegistrationLib.landmark_proposal import propose_landmarks

    levels = None
    if args.levels is not None:
        try:
            levels = parse_level_range(args.levels)
        except ValueError as exc:
            raise CLIError(f"--levels: {exc}") from exc
    out = output_path(args.out, "--out", [args.labels, args.subregions])
    if not out.name.lower().endswith(".json"):
        raise CLIError(f"--out must name a markups file ending in .mrk.json (got {out.name!r})")
    if out.exists() and not args.overwrite:
        raise CLIError(f"--out {out} exists: choose another file or add --overwrite")

    labels = _read_label_image(args.labels, "--labels")
    subregions = _read_label_image(args.subregions, "--subregions") if args.subregions else None
    try:
        points = propose_landmarks(labels, subregions, levels)
    except ValueError as exc:
        raise CLIError(f"--labels {args.labels}: {exc}") from exc
    points.name = out.name[: -len(".mrk.json")] if out.name.lower().endswith(".mrk.json") else out.stem
    write_markups_json(out, points, coordinate_system=args.coordinate_system)
    found = [lbl.rsplit("-", 1)[0] for lbl in points.labels()[::2]]
    print(f"wrote {len(points)} proposed landmarks ({', '.join(found)}) to {out}")
    return 0
