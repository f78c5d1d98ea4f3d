"""How the command line reports bad input: one line naming the problem and what to change."""

from __future__ import annotations


class CLIError(Exception):
    """Bad input to a sub-command; the message says what to change. Exit status 2."""
