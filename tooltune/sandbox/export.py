"""Gold trajectories as SFT data: JSONL of {"id", "messages", "tools"}, with train/test splits.

Splits hold out whole users (`by="user"`: does the agent generalise to new people?) or whole
instructions (`by="instruction"`: to new requests?). `apps` keeps the cases whose main app (the first
listed) is one of them, e.g. one task per app for continual learning.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Literal

from tooltune.sandbox.cases import Case
from tooltune.sandbox.reference import gold_trajectory
from tooltune.sandbox.suite import Suite, builtin_suite
from tooltune.sandbox.tools import APP_NAMES

SplitBy = Literal["user", "instruction"]
SplitName = Literal["all", "train", "test"]


def split_cases(
    cases: list[Case], by: SplitBy = "user", test_fraction: float = 0.25, seed: int = 0
) -> tuple[list[Case], list[Case]]:
    """(train, test): a seeded choice of held-out users or instructions; every case lands in exactly one."""
    if by not in ("user", "instruction"):
        raise ValueError(f"by must be 'user' or 'instruction', got {by!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")

    def key(case: Case) -> str:
        return case.user.id if by == "user" else case.instruction.id

    groups = sorted({key(c) for c in cases})
    random.Random(seed).shuffle(groups)
    held_out = set(groups[: max(1, math.ceil(len(groups) * test_fraction))]) if len(groups) > 1 else set()
    return [c for c in cases if key(c) not in held_out], [c for c in cases if key(c) in held_out]


def main_app(case: Case) -> str:
    return case.instruction.apps[0]


def filter_apps(cases: Iterable[Case], apps: Iterable[str]) -> list[Case]:
    """The cases whose main app is in `apps`."""
    wanted = set(apps)
    unknown = wanted - set(APP_NAMES)
    if unknown:
        raise ValueError(f"unknown apps {sorted(unknown)}; known apps: {list(APP_NAMES)}")
    return [c for c in cases if main_app(c) in wanted]


def sft_records(cases: Iterable[Case], suite: Suite | None = None, include_profile: bool = True) -> Iterator[dict]:
    """One {"id", "messages", "tools"} record per case, from its gold trajectory in a fresh world."""
    if suite is None:
        suite = builtin_suite()
    for case in cases:
        with suite.open_world(case) as world:
            messages = gold_trajectory(case, world, include_profile=include_profile)
            tools = world.tool_schemas(case.instruction.tools)
        yield {"id": case.id, "messages": messages, "tools": tools}


def export_sft(
    path: str | Path,
    cases: list[Case],
    split: SplitName = "all",
    *,
    by: SplitBy = "user",
    test_fraction: float = 0.25,
    seed: int = 0,
    apps: Iterable[str] | None = None,
    include_profile: bool = True,
    suite: Suite | None = None,
    progress: Callable[[Iterable[Case]], Iterable[Case]] | None = None,
) -> int:
    """Write the gold trajectories of the selected cases as JSONL; returns the number of records."""
    if split not in ("all", "train", "test"):
        raise ValueError(f"split must be 'all', 'train' or 'test', got {split!r}")
    selected = filter_apps(cases, apps) if apps is not None else list(cases)
    if split != "all":
        train, test = split_cases(selected, by, test_fraction, seed)
        selected = train if split == "train" else test
    iterable: Iterable[Case] = progress(selected) if progress else selected
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with out.open("w", encoding="utf-8") as handle:
        for record in sft_records(iterable, suite, include_profile):
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count
