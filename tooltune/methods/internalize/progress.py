"""What an experiment reports while it runs: one structured event per step, for a CLI to print and a test or
a notebook to read without parsing text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """One step of an experiment: `kind` names it (`teacher`, `schedule`, `setup`, `evaluated`, `table`),
    `data` holds its values, `message` says it in one line (or a table) for a person."""

    kind: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


Progress = Callable[[Event], None]
"""Receives every event of a run, in order."""


def print_messages(event: Event) -> None:
    """The default progress: print each event's message."""
    print(event.message)
