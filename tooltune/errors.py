"""The error types every area's own errors derive from, and how the CLI edge reports them.

An area raises its own subclass (``RunConfigError``, ``SFTDataError``...); the command line catches
``TooltuneError`` once, prints ``error: <message>`` on one line and exits with the error's code:
2 for bad input (a file, field or option the user can fix), 1 for a run that failed.
"""

from __future__ import annotations


class TooltuneError(Exception):
    """Base of tooltune's own errors: the message names the file, field or option at fault."""

    exit_code = 1


class UsageError(TooltuneError, ValueError):
    """Bad input the user can correct (a file, a config field, an option): exit code 2."""

    exit_code = 2


class RunFailure(TooltuneError, RuntimeError):
    """The run itself failed (every episode failed, a judge unreachable...): exit code 1."""

    exit_code = 1


def one_line(error: BaseException) -> str:
    """The error's message folded onto one line, as the CLI prints it."""
    text = " ".join(str(error).split())
    return text or type(error).__name__
