"""Entry point of ``mrtoct``: parses the sub-command and reports errors as one line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from SpineCoreLib.validation import InputError

from . import (
    bench_cmd,
    demo_cmd,
    evaluate_cmd,
    import_cmd,
    landmarks_cmd,
    models_cmd,
    phantom_cmd,
    register_cmd,
    segment_cmd,
    serve_cmd,
    train_cmd,
    translate_cmd,
)
from .errors import CLIError

SUBCOMMANDS = (phantom_cmd, import_cmd, register_cmd, landmarks_cmd, train_cmd, translate_cmd, segment_cmd,
               evaluate_cmd, models_cmd, demo_cmd, bench_cmd, serve_cmd)


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line naming the argument (``mrtoct COMMAND: error: ...``), exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="mrtoct",
        description="SpineMRtoCT: paired spine phantom, landmark registration, MR-to-CT translation, "
                    "vertebra segmentation and evaluation.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=OneLineParser)
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except (CLIError, InputError) as exc:
        print(f"mrtoct {args.command}: error: {str(exc).strip().splitlines()[0]}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
