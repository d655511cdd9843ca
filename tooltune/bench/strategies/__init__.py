"""Agent strategies: FC, ReAct, plan-then-act; look one up by name with `get_strategy`."""

from __future__ import annotations

from tooltune.bench.strategies.base import DEFAULT_MAX_TURNS, Strategy
from tooltune.bench.strategies.fc import FunctionCalling
from tooltune.bench.strategies.plan_act import PlanThenAct
from tooltune.bench.strategies.react import ReAct, parse_react

STRATEGIES: dict[str, type[Strategy]] = {"fc": FunctionCalling, "react": ReAct, "plan": PlanThenAct}


def get_strategy(name: str, **options: object) -> Strategy:
    """Build a strategy by name ('fc', 'react', 'plan')."""
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {sorted(STRATEGIES)}, got {name!r}")
    return STRATEGIES[name](**options)  # type: ignore[arg-type]


__all__ = ["DEFAULT_MAX_TURNS", "STRATEGIES", "FunctionCalling", "PlanThenAct", "ReAct", "Strategy",
           "get_strategy", "parse_react"]
