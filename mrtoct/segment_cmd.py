"""``mrtoct segment``: vertebra labels (VerSe IDs) of a CT or synthetic CT."""

from __future__ import annotations

import argparse

from .errors import CLIError
from .inputs import add_input_kind, read_image
from .outputs import check_outputs


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("segment", help="label the vertebrae of a CT or synthetic CT (VerSe IDs)")
    p.add_argument("--input", required=True, help="CT or synthetic CT in HU (NIfTI, NRRD, MHA, ...)")
    p.add_argument("--output", required=True,
                   help="on the input's grid: SEG.seg.nrrd, a 3D Slicer segmentation (one named, coloured segment "
                        "per vertebra with its standard code), or a label image such as .nii.gz (VerSe IDs)")
    p.add_argument("--method", default="builtin",
                   help="builtin (default, no weights), totalsegmentator, or the folder of a MONAI bundle")
    p.add_argument("--landmarks", default=None,
                   help="builtin: .mrk.json whose '<level>-body'/'<level>-spinous' points name the vertebrae")
    p.add_argument("--caudal-level", default="L5",
                   help="builtin without landmarks: most caudal vertebra wholly in the image (default L5)")
    p.add_argument("--weights", default=None, help="totalsegmentator: folder of its weights (offline use)")
    p.add_argument("--device", default=None, help="totalsegmentator: gpu or cpu (default: gpu if available)")
    add_input_kind(p)
    p.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    from SpineCoreLib.levels import check_level
    from SpineCoreLib.segmentation.api import METHODS, looks_like_path

    if args.method.lower() not in METHODS and not looks_like_path(args.method):
        raise CLIError(f"unknown --method {args.method!r}: use builtin, totalsegmentator or a MONAI bundle "
                       "folder")
    if args.landmarks:
        from SpineCoreLib.validation import markups_file

        markups_file(args.landmarks, "--landmarks")
    try:
        check_level(args.caudal_level)
    except ValueError as exc:
        raise CLIError(f"--caudal-level: {exc}") from exc
    check_outputs({"--output": args.output}, [args.input, args.landmarks])
    _check_method(args)


def _check_method(args: argparse.Namespace) -> None:
    """Fail before reading the image when the chosen method cannot run."""
    from SpineCoreLib.segmentation import SegmentationError

    try:
        if args.method.lower() == "totalsegmentator":
            from SpineCoreLib.segmentation.totalseg import check_installed, weights_env

            check_installed()
            weights_env(args.weights)
        elif args.method.lower() != "builtin":
            from SpineCoreLib.segmentation.bundle import check_bundle

            check_bundle(args.method)
    except SegmentationError as exc:
        raise CLIError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    import SimpleITK as sitk

    from SpineCoreLib.evaluation.dice import vertebra_levels
    from SpineCoreLib.segmentation import SegmentationError, segment_vertebrae
    from SpineCoreLib.segmentation.builtin import ANCHOR_KEY
    from SpineCoreLib.segmentation.seg_nrrd import write_labels

    _check(args)
    image = read_image(args.input, "--input", "ct", args.input_kind)
    try:
        labels = segment_vertebrae(image, args.method, landmarks=args.landmarks,
                                   caudal_level=args.caudal_level, weights_dir=args.weights,
                                   device=args.device)
    except SegmentationError as exc:
        raise CLIError(str(exc)) from exc
    if not sitk.GetArrayViewFromImage(labels).any():
        raise CLIError(f"no vertebra was found in {args.input}: nothing was written (is it a CT in HU?)")
    write_labels(labels, args.output)
    found = vertebra_levels(sitk.GetArrayFromImage(labels))
    anchor = labels.GetMetaData(ANCHOR_KEY) if labels.HasMetaDataKey(ANCHOR_KEY) else ""
    print(f"{len(found)} vertebrae ({', '.join(found) or 'none'}) written to {args.output}"
          + (f"; levels named from {anchor}" if anchor else ""))
    return 0
