"""`tooltune train continual`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the `continual` command to the `train` app."""
