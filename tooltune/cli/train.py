"""`tooltune train ...` and `tooltune importance`: the training methods.

Each method module (train_citi, train_continual, train_internalize) adds its own command to `app`.
"""

from __future__ import annotations

import typer

from tooltune.cli import train_citi, train_continual, train_internalize

app = typer.Typer(help="Adapt a model: CITI, continual learning, progressive internalization.", no_args_is_help=True)
train_citi.register(app)
train_continual.register(app)
train_internalize.register(app)


def register_top_level(root: typer.Typer) -> None:
    """Add top-level commands that belong to training (`tooltune importance`)."""
