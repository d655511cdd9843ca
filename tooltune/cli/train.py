"""`tooltune train ...` and `tooltune importance`: the training methods.

Each method module adds its own command to `app` (train_citi, train_continual, train_internalize).
"""

from __future__ import annotations

import typer

app = typer.Typer(help="Adapt a model: CITI, continual learning, progressive internalization.", no_args_is_help=True)


def register_top_level(root: typer.Typer) -> None:
    """Add top-level commands that belong to training (`tooltune importance`)."""
