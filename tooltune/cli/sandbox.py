"""`tooltune sandbox ...`: inspect the apps, users and cases; export gold trajectories."""

from __future__ import annotations

import typer

app = typer.Typer(help="Inspect the sandbox world: tools, users, cases; export SFT data.", no_args_is_help=True)
