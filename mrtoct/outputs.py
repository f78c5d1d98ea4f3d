"""Checks on the command line's output paths, through the shared validation layer."""

from __future__ import annotations

from SpineCoreLib.validation import distinct_outputs, output_path


def check_outputs(outputs: dict[str, str | None], inputs: list[str | None]) -> None:
    """InputError when an output cannot be written, is a folder, equals an input or another output."""
    for flag, path in outputs.items():
        if path:
            output_path(path, flag, inputs)
    distinct_outputs(outputs)
