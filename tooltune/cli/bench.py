"""`tooltune bench ...`: run, judge and report the personalized tool-use benchmark."""

from __future__ import annotations

import typer

app = typer.Typer(help="Run, judge and report the personalized tool-use benchmark.", no_args_is_help=True)
