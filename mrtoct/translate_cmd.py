"""``mrtoct translate``: synthetic CT from an MR volume with a bundled or user model."""

from __future__ import annotations

import argparse

import numpy as np

from MRtoCTTranslationLib.options import TranslationOptions
from SpineCoreLib.validation import existing_file, markups_file

from .errors import CLIError, validated
from .inputs import add_input_kind, read_image
from .outputs import check_outputs
from .precision_option import add_precision_option, resolve_precision


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("translate", help="turn an MR volume into a synthetic CT")
    p.add_argument("--input", required=True, help="MR volume (NIfTI, NRRD, MHA, ...)")
    p.add_argument("--output", required=True, help="synthetic CT on the input's grid (HU, int16; "
                   "MR targets: units 0..1000)")
    p.add_argument("--target", default=None, help="output modality, case-insensitive: CT (default) or, with a "
                   "latent model, any target on its card (e.g. T1w, T2w, PDw, STIR)")
    p.add_argument("--model", default=None, help="model name, folder or URL (default: the bundled 3D model)")
    p.add_argument("--sha256", default=None, help="expected SHA256 when --model is a URL")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model card's, the fewest "
                   "within 0.3 dB PSNR of 20 steps on held-out cases; see mrtoct models)")
    p.add_argument("--eta", type=float, default=0.0, help="DDIM eta: 0 deterministic (default), 1 stochastic")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, default=1, help="number of samples to average (default 1)")
    p.add_argument("--uncertainty", default=None, help="write the voxel-wise standard deviation (needs --samples > 1)")
    p.add_argument("--output-iso", default=None, help="also write the synthetic CT on the model's isotropic grid")
    p.add_argument("--window", type=int, nargs="+", default=None, metavar="N",
                   help="sliding-window size in voxels, 3 numbers for a 3D model, 2 (in-slice) for a 2D one "
                   "(default: the model card's, its training patch)")
    p.add_argument("--overlap", type=float, default=None, help="window overlap in [0, 0.9] (default: the card's)")
    p.add_argument("--window-batch", type=int, default=2, metavar="N", help="windows per network call (default 2: "
                   "1.3x faster per window in fp32 on 2 CPU cores, the same in bf16; more needs more memory)")
    p.add_argument("--no-bias-correction", action="store_true", help="skip the N4 bias-field correction of the MR "
                   "(on by default: it removes the coil's smooth brightness slope before normalisation)")
    p.add_argument("--landmarks", default=None, help="MR landmarks (.mrk.json or .csv, e.g. L3-body, L3-spinous): "
                   "only their box, with --spine-margin around it, is synthesised")
    p.add_argument("--spine-margin", type=float, default=40.0, metavar="MM", help="around the landmarks (default "
                   "40 mm: a body's front and the transverse processes' tips)")
    p.add_argument("--whole-field-of-view", action="store_true", help="synthesise the whole field of view, not "
                   "only the body's box (or the landmarks'): slower, the same around the spine")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    add_input_kind(p)
    add_precision_option(p)
    p.add_argument("--fp32", action="store_true", help="the same as --precision fp32")
    p.set_defaults(run=run)


def _check(args: argparse.Namespace) -> None:
    existing_file(args.input, "--input")
    if args.landmarks:
        markups_file(args.landmarks, "--landmarks")
        if args.whole_field_of_view:
            raise CLIError("--landmarks narrow the synthesised box, --whole-field-of-view asks for none: give one")
    check_outputs({"--output": args.output, "--uncertainty": args.uncertainty, "--output-iso": args.output_iso},
                  [args.input, args.landmarks])
    if args.sha256 and not str(args.model or "").lower().startswith(("http://", "https://")):
        raise CLIError("--sha256 checks a model downloaded from a URL: give --model as an http(s) URL, or leave "
                       "--sha256 out")
    if args.uncertainty and args.samples < 2:
        raise CLIError("--uncertainty needs --samples 2 or more")
    if args.fp32 and args.precision not in ("auto", "fp32"):
        raise CLIError(f"--fp32 contradicts --precision {args.precision}: give one of them")


def options_from_args(args: argparse.Namespace) -> TranslationOptions:
    """The command line's ``TranslationOptions``, validated where every layer validates them."""
    return validated(TranslationOptions(model=args.model or "", target=args.target or "CT", steps=args.steps, eta=args.eta,
                                 seed=args.seed, samples=args.samples, device=args.device,
                                 precision="fp32" if args.fp32 else args.precision,
                                 window=tuple(args.window) if args.window else None, overlap=args.overlap,
                                 window_batch=args.window_batch,
                                 output_iso=bool(args.output_iso), bias_correction=not args.no_bias_correction,
                                 crop_to_spine=not args.whole_field_of_view, spine_margin_mm=args.spine_margin))


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from MRtoCTTranslationLib.models.card import ModelError
    from MRtoCTTranslationLib.models.registry import check_translation, default_model_name, resolve
    from MRtoCTTranslationLib.translator import check_input, load_model, translate_image
    from SpineCoreLib.atomic_io import write_images

    _check(args)
    options = options_from_args(args)
    image = read_image(args.input, "--input", "mr", args.input_kind)
    try:
        card = check_translation(options, image, "--input")  # None: a URL model, checked once downloaded
    except ValueError as exc:
        raise CLIError(str(exc)) from exc
    try:
        check_input(image)
        folder = resolve(options.model or default_model_name(), sha256=args.sha256)
        model = load_model(folder, options.device)
    except (ModelError, ValueError) as exc:
        raise CLIError(str(exc)) from exc
    if model.card.input_modality != "MR":
        raise CLIError(f"model {folder.name} translates {model.card.input_modality} images, not MR: "
                       "choose an MR-to-CT model (mrtoct models)")
    if card is None:
        try:
            model.card.check_request(options.target, options.steps, options.window)
        except ValueError as exc:
            raise CLIError(str(exc)) from exc
    steps = options.steps or model.default_steps
    points = np.array(list(markups_file(args.landmarks, "--landmarks").defined().values())) if args.landmarks else None
    resolve_precision(args, model.device)  # said once all input is checked, as work begins
    with tqdm(total=options.samples * (steps if model.sampled else 1), desc="translating", unit="step") as bar:
        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        try:
            res = translate_image(model, image, options, progress, landmarks=points)
        except ValueError as exc:
            raise CLIError(str(exc)) from exc
    outputs = {args.output: res.image, args.output_iso: res.image_iso, args.uncertainty: res.std}
    write_images({path: image for path, image in outputs.items() if path and image is not None})  # all or none
    print(f"synthetic {res.target} written to {args.output} ({res.seconds:.1f} s, model {folder.name}, "
          f"{f'{res.steps} steps' if model.sampled else 'one pass'}, {res.precision})")
    return 0
