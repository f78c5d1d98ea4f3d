"""How the command line reports bad input: one line naming the problem and what to change."""

from __future__ import annotations


class CLIError(Exception):
    """Bad input to a sub-command; the message says what to change. Exit status 2."""


def check_model(spec: str | None) -> None:
    """CLIError for a model nothing knows, before any work (nothing is downloaded here)."""
    from MRtoCTTranslationLib.models.registry import default_model_name, local_card

    try:
        local_card(spec or default_model_name())
    except ValueError as exc:
        raise CLIError(str(exc)) from exc


def validated(options):
    """``options`` (a ``TranslationOptions``) after its one ``validate``, or CLIError naming the flag: the
    fields carry the flags' names, so the message only needs the leading dashes."""
    try:
        options.validate()
    except ValueError as exc:
        raise CLIError(f"--{exc}") from exc
    return options
