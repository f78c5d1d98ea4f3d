"""``mrtoct bench``: speed and memory of the translation engine on this machine."""

from __future__ import annotations

import argparse

from MRtoCTTranslationLib.options import TranslationOptions
from SpineCoreLib.atomic_io import write_json
from SpineCoreLib.validation import output_path

from .bench_parts import BUDGET_S, PARTS
from .errors import CLIError, check_model, validated
from .precision_option import add_precision_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure FLOPs, efficiency, translation time and peak memory here")
    p.add_argument("--model", default=None,
                   help="model to measure (default: ddim3d-1mm, the resolution the goals are set at)")
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model card's)")
    add_precision_option(p)
    p.add_argument("--budget-minutes", type=float, default=BUDGET_S / 60,
                   help="time the whole run may take (default 10); parts that no longer fit are skipped")
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                   help="which measurements to run (default: all)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from .bench import run_bench

    validated(TranslationOptions(steps=args.steps, precision=args.precision))
    if not 0 < args.budget_minutes <= 24 * 60:  # also refuses NaN
        raise CLIError(f"--budget-minutes must be between 0 and {24 * 60} minutes, got {args.budget_minutes}")
    if args.json:
        output_path(args.json, "--json")
    check_model(args.model)
    res = run_bench(args.model, args.steps, parts=tuple(args.parts), precision=args.precision,
                    budget_s=60 * args.budget_minutes)
    if args.json:
        write_json(args.json, res)
    return 0
