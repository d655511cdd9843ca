"""How a built-in task is written: an Instruction (with key points) plus its reference solver."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tooltune.sandbox.cases import Instruction, KeyPoint
from tooltune.sandbox.catalogue import BASE_DATE

if TYPE_CHECKING:
    from tooltune.sandbox.reference import Session

Solver = Callable[["Session"], None]


@dataclass
class Task:
    instruction: Instruction
    solve: Solver


REGISTRY: dict[str, Task] = {}


def personal(text: str, check: dict[str, Any] | None = None) -> KeyPoint:
    return KeyPoint("", "personal", text, check)


def proactive(text: str, check: dict[str, Any] | None = None) -> KeyPoint:
    return KeyPoint("", "proactive", text, check)


def day(offset: int, hhmm: str = "") -> str:
    """'YYYY-MM-DD' (or 'YYYY-MM-DD HH:MM:00') `offset` days from the base date."""
    from datetime import timedelta

    text = (BASE_DATE + timedelta(days=offset)).isoformat()
    return f"{text} {hhmm}:00" if hhmm else text


def task(
    id: str, query: str, *, at: str, location: str, apps: list[str], tools: list[str], keypoints: list[KeyPoint]
) -> Callable[[Solver], Solver]:
    """Register an instruction and its solver; key point ids become "<id>/k<n>"."""

    def register(solve: Solver) -> Solver:
        if id in REGISTRY:
            raise ValueError(f"duplicate task id {id!r}")
        numbered = [KeyPoint(f"{id}/k{n}", kp.kind, kp.text, kp.check)
                    for n, kp in enumerate(keypoints, start=1)]
        REGISTRY[id] = Task(Instruction(id, query, at, location, apps, tools, numbered), solve)
        return solve

    return register


# --- check spec builders (the specs are plain dicts; checks.py interprets them) -----------------

def pref(path: str) -> dict:
    return {"pref": path}


def called(tool: str) -> dict:
    return {"type": "called", "tool": tool}


def arg(tool: str, name: str, op: str, value: Any, quantifier: str = "all") -> dict:
    return {"type": "arg", "tool": tool, "arg": name, "op": op, "value": value, "quantifier": quantifier}


def arg_row(tool: str, name: str, table: str, column: str, op: str, value: Any, key: str = "id",
            quantifier: str = "all") -> dict:
    return {"type": "arg_row", "tool": tool, "arg": name, "table": table, "key": key, "column": column,
            "op": op, "value": value, "quantifier": quantifier}


def before(first: str, then: str) -> dict:
    return {"type": "order", "first": first, "then": then}


def answer(op: str, value: Any) -> dict:
    return {"type": "answer", "op": op, "value": value}


def row(table: str, change: str, **where: tuple[str, Any]) -> dict:
    return {"type": "row", "table": table, "change": change,
            "where": {column: {"op": op, "value": value} for column, (op, value) in where.items()}}
