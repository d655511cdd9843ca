"""The internalization experiments' own errors: bad input (exit 2) and a run that could not go on (exit 1)."""

from __future__ import annotations

from tooltune.errors import RunFailure, UsageError


class InternalizeError(UsageError):
    """An experiment cannot run as asked (unknown user or app, too few instructions, a component that is not
    installed); the message names the option or field."""


class InternalizeFailure(RunFailure):
    """The experiment ran but could not go on (e.g. the teacher got too few answers right)."""


class ComponentMissing(InternalizeError, RuntimeError):
    """A component the options ask for (a compressor or retriever model) is not installed."""
