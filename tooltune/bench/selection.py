"""Choosing the subset of cases a run covers (`--cases`, `--users`, `--apps`, `--limit`, `--seed`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from tooltune.errors import UsageError


class SelectionError(UsageError):
    """A selection names users, apps or cases the suite does not have."""


def _check(field: str, wanted: Sequence[str], known: set[str]) -> None:
    missing = sorted(set(wanted) - known)
    if missing:
        shown = ", ".join(sorted(known)[:12]) + (" ..." if len(known) > 12 else "")
        raise SelectionError(f"{field}: unknown {missing}; known: {shown}")


def select_cases(
    cases: Sequence[Any],
    *,
    case_ids: Sequence[str] = (),
    users: Sequence[str] = (),
    apps: Sequence[str] = (),
    limit: int | None = None,
    seed: int = 0,
) -> list[Any]:
    """Filter cases by id / user / app, then keep `limit` of them drawn with `seed` (in suite order)."""
    _check("cases", case_ids, {c.id for c in cases})
    _check("users", users, {c.user.id for c in cases})
    _check("apps", apps, {a for c in cases for a in c.instruction.apps})
    chosen = [
        c for c in cases
        if (not case_ids or c.id in case_ids)
        and (not users or c.user.id in users)
        and (not apps or set(apps) & set(c.instruction.apps))
    ]
    if not chosen:
        raise SelectionError(f"no case has all of cases={list(case_ids)} users={list(users)} apps={list(apps)}")
    if limit is not None:
        if limit < 1:
            raise SelectionError(f"limit must be >= 1, got {limit}")
        if limit < len(chosen):
            keep = set(random.Random(seed).sample(range(len(chosen)), limit))
            chosen = [c for i, c in enumerate(chosen) if i in keep]
    return chosen
