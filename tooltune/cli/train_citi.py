"""`tooltune train citi`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `citi` command to the `train` app."""
