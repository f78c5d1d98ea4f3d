"""``mrtoct bench``: speed and memory of the translation engine on this machine."""

from __future__ import annotations

import argparse
import json

from MRtoCTTranslationLib.options import TranslationOptions

from .bench import BUDGET_S, PARTS
from .errors import CLIError, validated
from .precision_option import add_precision_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure FLOPs, efficiency, translation time and peak memory here")
    p.add_argument("--model", default=None)
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
    if not args.budget_minutes > 0:
        raise CLIError("--budget-minutes must be positive")
    res = run_bench(args.model, args.steps, parts=tuple(args.parts), precision=args.precision,
                    budget_s=60 * args.budget_minutes)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0
