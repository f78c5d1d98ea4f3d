"""``mrtoct bench``: speed and memory of the translation engine on this machine."""

from __future__ import annotations

import argparse
import json

from ..bench import PARTS


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="measure FLOPs, efficiency, translation time and peak memory here")
    p.add_argument("--model", default=None)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--json", default=None, help="also write the numbers to this JSON file")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                   help="which measurements to run (default: all)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..bench import run_bench

    res = run_bench(args.model, args.steps, parts=tuple(args.parts))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0
