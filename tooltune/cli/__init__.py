"""The `tooltune` command line: thin commands that parse arguments, call one function, print.

Each area owns one module here and registers its commands on the shared app; heavy imports
(torch, transformers) happen inside the commands so that `--help` stays instant.
"""

from __future__ import annotations

import sys

import typer

from tooltune.cli import bench, chat, export, sandbox, train
from tooltune.errors import TooltuneError, one_line

app = typer.Typer(
    name="tooltune",
    help="Turn small language models into personal tool-using agents, and measure them.",
    no_args_is_help=True,
    add_completion=False,
)
chat.register(app)
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(bench.app, name="bench")
app.add_typer(train.app, name="train")
train.register_top_level(app)
export.register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; tooltune's own errors end as one line on stderr with their exit code."""
    try:
        app(args=argv, prog_name="tooltune")
    except TooltuneError as error:
        print(f"error: {one_line(error)}", file=sys.stderr)
        sys.exit(error.exit_code)
