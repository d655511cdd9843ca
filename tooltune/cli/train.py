"""`tooltune train ...` and `tooltune importance`: the training methods.

Each method module (train_citi, train_continual, train_internalize) adds its own command to `app`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from tooltune.cli import train_agent, train_citi, train_continual, train_internalize

app = typer.Typer(help="Adapt a model: CITI, continual learning, progressive internalization.", no_args_is_help=True)
train_agent.register(app)
train_citi.register(app)
train_continual.register(app)
train_internalize.register(app)


def importance(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="SFT JSONL of the ability to score "
                              "(e.g. tool-use conversations)."),
    out: Path = typer.Option(..., "--out", help="JSON file to write; a heat map per ability goes beside it (.svg)."),
    model: str = typer.Option("smollm2", "--model", "-m", help="smollm2 (embedded) | PATH to a HF checkpoint."),
    ability: str = typer.Option("tool", "--ability", help="Name of the ability --data stands for."),
    general: bool = typer.Option(True, "--general/--no-general", help="Also score general ability on the "
                                 "calibration half of Python's documentation."),
    max_examples: Optional[int] = typer.Option(None, "--max-examples", min=1),
    batches: int = typer.Option(8, "--batches", min=1, help="Batches of 2 to accumulate gradients over."),
    max_length: int = typer.Option(512, "--max-length", min=16),
    aggregate: str = typer.Option("dot", "--aggregate", help="dot (the paper's: |theta^T dL/dtheta| over the data) "
                                  "| sum | mean (per batch, of |theta * grad| over a module)."),
) -> None:
    """Gradient importance of every layer x linear module for an ability (and general ability)."""
    from tooltune.methods.citi.method import run_importance

    for item, svg in run_importance(data, out, model, ability, general, max_examples, batches, max_length, aggregate):
        typer.echo(f"{item.ability}: top components {', '.join(item.ranked()[:5])}  (heat map: {svg})")
    typer.echo(f"wrote {out}")


def register_top_level(root: typer.Typer) -> None:
    """Add top-level commands that belong to training (`tooltune importance`)."""
    root.command("importance")(importance)
