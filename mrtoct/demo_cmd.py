"""``mrtoct demo``: the whole pipeline on a phantom case (what ``make demo`` runs)."""

from __future__ import annotations

import argparse
import json

from MRtoCTTranslationLib.options import TranslationOptions
from SpineCoreLib.validation import output_folder

from .errors import CLIError, check_model, validated
from .precision_option import add_precision_option, resolve_precision


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="phantom case -> registration -> synthetic CT -> metrics and figure")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--steps", type=int, default=None, help="sampling steps (default: the model card's)")
    add_precision_option(p)
    p.add_argument("--model", default=None, help="model name or folder (default: the bundled 3D model)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from MRtoCTTranslationLib.models.card import ModelError
    from MRtoCTTranslationLib.translator import resolve_device

    from .demo import run_demo

    validated(TranslationOptions(steps=args.steps, precision=args.precision))
    output_folder(args.out, "--out")
    check_model(args.model)
    precision = resolve_precision(args, resolve_device("auto"))
    bar = tqdm(total=args.steps, desc="demo: translating", unit="step")

    def progress(stage: str, done: int, total: int) -> None:
        bar.total, bar.n = total, done
        bar.refresh()

    try:
        metrics = run_demo(args.out, args.seed, args.steps, args.model, progress, precision.requested)
    except (ModelError, ValueError) as exc:
        raise CLIError(str(exc)) from exc
    finally:
        bar.close()
    print(json.dumps({k: metrics[k] for k in ("steps", "precision", "sct_vs_ideal_ct", "timings")}, indent=2))
    print(f"wrote {args.out}/metrics.json and {args.out}/demo_figure.png")
    return 0
