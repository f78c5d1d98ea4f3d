"""Checks on the command line's output paths: their folder exists and no input is overwritten."""

from __future__ import annotations

from pathlib import Path

from .errors import CLIError


def check_outputs(outputs: dict[str, str | None], inputs: list[str | None]) -> None:
    """CLIError when an output's folder is missing or an output would replace one of ``inputs``."""
    ins = {Path(p).resolve() for p in inputs if p}
    for flag, path in outputs.items():
        if not path:
            continue
        p = Path(path)
        if not p.parent.exists():
            raise CLIError(f"{flag}: folder {p.parent} does not exist")
        if p.resolve() in ins:
            raise CLIError(f"{flag} {p} would overwrite an input: choose another file")
