"""Instructions, key points and cases (instruction x user); the built-in instructions are in `tasks/`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from tooltune.sandbox.users import UserProfile


@dataclass
class KeyPoint:
    """One thing a good answer does: personal (uses a preference) or proactive (goes beyond the ask).

    `check` is a predicate spec (a dict interpreted by `checks.py`) or None for a free-text key point
    that only an LLM judge can score.
    """

    id: str
    kind: Literal["personal", "proactive"]
    text: str
    check: dict[str, Any] | None = None

    @property
    def checkable(self) -> bool:
        return self.check is not None


@dataclass
class Instruction:
    """A user request at a time and place, with the tools it needs and its key points."""

    id: str
    query: str
    timestamp: str
    location: str
    apps: list[str]
    tools: list[str]
    keypoints: list[KeyPoint] = field(default_factory=list)

    @property
    def multi_app(self) -> bool:
        return len(self.apps) > 1


@dataclass
class Case:
    """One instruction for one user; `id` is stable: '<instruction id>@<user id>'."""

    id: str
    instruction: Instruction
    user: UserProfile


def make_cases(instructions: list[Instruction], users: list[UserProfile]) -> list[Case]:
    """Every instruction for every user, instruction-major, in a stable order."""
    return [Case(f"{i.id}@{u.id}", i, u) for i in instructions for u in users]

