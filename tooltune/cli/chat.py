"""`tooltune chat` and `tooltune models`."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the model commands to the top-level app."""
