"""One agent episode: its identity, its evolving state, and the record written when it finishes.

The agent loop is a step function: a strategy turns an `EpisodeState` into the next `ChatRequest`,
and the model's answer into the next state. The runner can thus batch the steps of many episodes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from tooltune.bench.toolbox import Toolbox
from tooltune.models.types import Message


@dataclass(frozen=True, order=True)
class EpisodeKey:
    """Identity of one episode in a run: a case, a strategy, a setting and a trial index."""

    case_id: str
    strategy: str
    setting: str
    trial: int

    @property
    def id(self) -> str:
        return f"{self.case_id}|{self.strategy}|{self.setting}|{self.trial}"

    @classmethod
    def parse(cls, text: str) -> "EpisodeKey":
        case_id, strategy, setting, trial = text.rsplit("|", 3)
        return cls(case_id, strategy, setting, int(trial))


@dataclass
class CallLog:
    """One executed (or refused) tool call, with the world's full response."""

    turn: int
    call_id: str
    name: str
    arguments: Any
    response: dict[str, Any]
    executed: bool = True

    @property
    def ok(self) -> bool:
        return "error" not in self.response


@dataclass
class EpisodeState:
    """Everything the step function needs; `trajectory` is OpenAI-format and is what gets judged."""

    key: EpisodeKey
    trajectory: list[Message]
    toolbox: Toolbox
    max_turns: int
    turn: int = 0
    phase: str = "act"
    finished: bool = False
    finish_reason: str | None = None
    calls: list[CallLog] = field(default_factory=list)
    malformed: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def finish(self, reason: str) -> None:
        self.finished = True
        self.finish_reason = reason

    def repeated_itself(self) -> bool:
        """Whether the latest turn only made calls already made earlier (same tool, same arguments): an agent
        going round in circles."""
        latest = [c for c in self.calls if c.turn == self.turn]
        earlier = {_call_key(c) for c in self.calls if c.turn < self.turn}
        return bool(latest) and all(_call_key(c) in earlier for c in latest)


@dataclass
class EpisodeRecord:
    """What the store keeps for a finished episode: enough to re-score and view it offline."""

    key: EpisodeKey
    user_id: str
    apps: list[str]
    trajectory: list[Message]
    calls: list[dict[str, Any]]
    malformed: list[dict[str, Any]]
    turns: int
    finish_reason: str
    offered_tools: list[str]
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    checks: list[dict[str, Any]] = field(default_factory=list)
    state_diff: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (shallow: the lists are shared, not copied; records are written, not mutated)."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["key"] = asdict(self.key)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EpisodeRecord":
        data = dict(data)
        data["key"] = EpisodeKey(**data["key"])
        return cls(**data)


def _call_key(call: CallLog) -> tuple[str, str]:
    """A call's identity for repetition: tool name and canonical JSON arguments."""
    return call.name, json.dumps(call.arguments, sort_keys=True, ensure_ascii=False, default=str)
