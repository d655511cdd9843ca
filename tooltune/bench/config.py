"""The typed description of a benchmark run, validated at the edge and stored in the run directory."""

from __future__ import annotations

import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from typing import Any

from tooltune.bench.strategies import DEFAULT_MAX_TURNS, STRATEGIES
from tooltune.bench.toolbox import SETTINGS
from tooltune.errors import UsageError
from tooltune.models.dtype import DTYPE_NAMES
from tooltune.models.types import TOOL_CHOICE_MODES, is_function_name

# Fields that define which episodes exist and how they are produced; a resumed run must match them.
EPISODE_FIELDS = ("model", "adapter", "suite", "strategies", "settings", "trials", "max_turns", "seed", "cases", "users",
                  "apps", "limit", "max_new_tokens", "temperature", "include_profile", "max_observation_chars", "dtype",
                  "tool_choice", "answer_on_last_turn", "answer_on_repeat")


class RunConfigError(UsageError):
    """A run option is invalid; the message names the option."""


@dataclass
class RunConfig:
    model: str
    adapter: str | None = None
    suite: str = "builtin"
    strategies: list[str] = field(default_factory=lambda: ["fc"])
    settings: list[str] = field(default_factory=lambda: ["given"])
    trials: int = 1
    max_turns: int = DEFAULT_MAX_TURNS
    seed: int = 0
    cases: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)
    limit: int | None = None
    max_new_tokens: int = 256
    temperature: float = 0.0
    include_profile: bool = True
    max_observation_chars: int = 2000
    tool_choice: str = "auto"  # auto | required | none | a function name (forced whenever that tool is offered)
    answer_on_last_turn: bool = True  # the last turn max_turns allows asks for the final answer (tool_choice none)
    answer_on_repeat: bool = True  # so does the turn after one that only repeated earlier calls
    concurrency: int = 8
    batch_size: int = 8
    dtype: str = "auto"
    allow_insecure_key: bool = False  # send the API key over plain http to a non-loopback host

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        hints = typing.get_type_hints(RunConfig)
        for f in fields(self):
            value = getattr(self, f.name)
            if not _has_type(value, hints[f.name]):
                raise RunConfigError(f"{f.name}: expected {_type_name(hints[f.name])}, got {value!r}"[:300])
        bad = [s for s in self.strategies if s not in STRATEGIES]
        if not self.strategies or bad:
            raise RunConfigError(f"strategies: choose from {sorted(STRATEGIES)}, got {self.strategies}")
        bad = [s for s in self.settings if s not in SETTINGS]
        if not self.settings or bad:
            raise RunConfigError(f"settings: choose from {list(SETTINGS)}, got {self.settings}")
        for name in ("trials", "max_turns", "max_new_tokens", "concurrency", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise RunConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.limit is not None and self.limit < 1:
            raise RunConfigError(f"limit must be >= 1, got {self.limit}")
        if not 0.0 <= self.temperature <= 5.0:
            raise RunConfigError(f"temperature must be in [0, 5], got {self.temperature}")
        if not self.model:
            raise RunConfigError("model: a model spec is required")
        if self.model.startswith("openai:"):
            from tooltune.models.openai_http import url_credentials

            credentials = url_credentials(self.model.removeprefix("openai:").rpartition("#")[0])
            if credentials:
                raise RunConfigError(f"model: the URL carries credentials ({', '.join(credentials)}) and would be "
                                     "saved in config.json and the report; give the key in $OPENAI_API_KEY instead")
        if not isinstance(self.tool_choice, str) or not (
                self.tool_choice in TOOL_CHOICE_MODES or is_function_name(self.tool_choice)):
            raise RunConfigError(f"tool_choice: choose from {list(TOOL_CHOICE_MODES)} or a function name "
                                 f"(letters, digits, _ . -), got {self.tool_choice!r}")
        if self.dtype not in DTYPE_NAMES:
            raise RunConfigError(f"dtype: choose from {list(DTYPE_NAMES)}, got {self.dtype!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        if not isinstance(data, dict):
            raise RunConfigError(f"expected an object of run options, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise RunConfigError(f"unknown run config field(s) {unknown}")
        missing = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
                   and f.name not in data]
        if missing:
            raise RunConfigError(f"missing run config field(s) {missing}")
        return cls(**data)

    def mismatch(self, other: RunConfig) -> list[str]:
        """Episode-defining fields that differ (a resume must not change them)."""
        return [f"{n}: {getattr(other, n)!r} -> {getattr(self, n)!r}" for n in EPISODE_FIELDS
                if getattr(self, n) != getattr(other, n)]


def _has_type(value: Any, hint: Any) -> bool:
    """Whether a config value (as read from JSON) has the field's declared type; ints count as floats."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(_has_type(value, option) for option in typing.get_args(hint))
    if typing.get_origin(hint) is list:
        return isinstance(value, list) and all(_has_type(item, typing.get_args(hint)[0]) for item in value)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _type_name(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")
