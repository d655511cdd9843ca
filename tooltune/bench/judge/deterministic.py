"""Recomputing the deterministic key-point checks of a saved episode without the agent model.

The world is rebuilt from the case and the logged tool calls are replayed in order; the checker then
sees the same final state the agent left. A replay whose responses differ from the log is flagged.
"""

from __future__ import annotations

import json
from typing import Any

from tooltune.bench.episode import EpisodeRecord


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def recheck(record: EpisodeRecord, case: Any, open_world: Any, check: Any) -> tuple[list[Any], list[str]]:
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
