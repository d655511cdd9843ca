"""Run the `tooltune` command line in-process as a user would: through `main(argv)`, exit code and streams."""

from __future__ import annotations

from typing import Any

from tooltune.cli import main


def run_cli(argv: list[str], capsys: Any) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `tooltune ARGV`; pytest's `capsys` captures the streams."""
    capsys.readouterr()
    try:
        main(argv)
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err
