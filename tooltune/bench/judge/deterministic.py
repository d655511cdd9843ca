"""Recomputing the deterministic key-point checks of a saved episode without the agent model.

The world is rebuilt from the case and the logged tool calls are replayed in order; the checker then
sees the same final state the agent left. A replay whose responses differ from the log is flagged.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tooltune.bench.episode import EpisodeRecord

if TYPE_CHECKING:
    from tooltune.models.types import Message
    from tooltune.sandbox.cases import Case
    from tooltune.sandbox.checks import KeyPointResult
    from tooltune.sandbox.world import World


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def recheck(record: EpisodeRecord, case: Case, open_world: Callable[[Case], World],
            check: Callable[[Case, list[Message], World], list[KeyPointResult]]) -> tuple[list[KeyPointResult], list[str]]:
    """(checker results on the replayed world, ids of calls whose replayed response differs)."""
    world = open_world(case)
    try:
        mismatched = []
        for call in record.calls:
            if not call.get("executed", True):
                continue
            response = world.call(call["name"], call["arguments"])
            if not _same(response, call["response"]):
                mismatched.append(call["id"])
        return list(check(case, record.trajectory, world)), mismatched
    finally:
        close = getattr(world, "close", None)
        if callable(close):
            close()
