"""How the command line reports bad input: one line naming the problem and what to change."""

from __future__ import annotations


class CLIError(Exception):
    """Bad input to a sub-command; the message says what to change. Exit status 2."""


def validated(options):
    """``options`` (a ``TranslationOptions``) after its one ``validate``, or CLIError naming the flag: the
    fields carry the flags' names, so the message only needs the leading dashes."""
    try:
        options.validate()
    except ValueError as exc:
        raise CLIError(f"--{exc}") from exc
    return options
