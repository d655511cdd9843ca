"""`tooltune train internalize`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `internalize` command to the `train` app."""
