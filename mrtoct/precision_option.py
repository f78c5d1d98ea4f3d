"""``--precision`` for every sub-command that runs a network: one option, one rule (``precision.py``)."""

from __future__ import annotations

import argparse
import sys

from MRtoCTTranslationLib.precision import PRECISIONS


def add_precision_option(p: argparse.ArgumentParser, default: str | None = "auto", default_text: str = "auto") -> None:
    p.add_argument("--precision", default=default, type=str.lower, choices=PRECISIONS,
                   help=f"arithmetic (default: {default_text}): auto takes bf16 on CPUs with native bf16 (AVX-512 "
                   "BF16, AMX), bf16 or fp16 on GPUs that have it, fp32 otherwise; forcing bf16 or fp16 where the "
                   "hardware emulates it warns")


def resolve_precision(args: argparse.Namespace, device):
    """The run's ``Precision`` for ``device``, printed to stderr so every run says what it computes in: call
    it once all input has been checked (a refused input gets its one line only)."""
    from MRtoCTTranslationLib.precision import choose_precision, quiet

    requested = "fp32" if getattr(args, "fp32", False) else args.precision  # --fp32: the older spelling
    with quiet():  # an emulated choice is warned about once, by the run itself
        prec = choose_precision(requested, device)
    print(f"mrtoct {args.command}: {prec.describe()}", file=sys.stderr)
    return prec
