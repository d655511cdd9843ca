"""A suite: users, cases and how to build each user's template database; opens episode worlds."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from tooltune.sandbox.cases import Case
from tooltune.sandbox.state import Snapshot, build_template, snapshot
from tooltune.sandbox.tasks import load_cases
from tooltune.sandbox.tools import Tool, all_tools
from tooltune.sandbox.users import UserProfile, load_users
from tooltune.sandbox.world import World

RowsForUser = Callable[[UserProfile], Mapping[str, Iterable[Mapping[str, Any]]]]


class Suite:
    """Users + cases + a function giving each user's database rows (catalogues included).

    Each user's template database is built once, on first use, and kept in memory; every episode
    gets a pristine copy of it (`open_world`).
    """

    def __init__(
        self,
        name: str,
        users: list[UserProfile],
        cases: list[Case],
        rows_for_user: RowsForUser,
        tools: list[Tool] | None = None,
    ) -> None:
        self.name = name
        self.users = users
        self.cases = cases
        self._rows_for_user = rows_for_user
        self._tools = tools
        self._templates: dict[str, tuple[sqlite3.Connection, Snapshot]] = {}
        self._lock = threading.Lock()
        self._by_id = {case.id: case for case in cases}
        if len(self._by_id) != len(cases):
            raise ValueError(f"suite {name!r}: duplicate case ids")

    def tools(self) -> list[Tool]:
        return list(self._tools) if self._tools is not None else all_tools()

    def case(self, case_id: str) -> Case:
        try:
            return self._by_id[case_id]
        except KeyError:
            raise KeyError(f"suite {self.name!r} has no case {case_id!r}") from None

    def template(self, user: UserProfile) -> tuple[sqlite3.Connection, Snapshot]:
        """The user's template database and its start snapshot (built on first use)."""
        with self._lock:
            if user.id not in self._templates:
                conn = build_template(self._rows_for_user(user))
                self._templates[user.id] = (conn, snapshot(conn))
            return self._templates[user.id]

    def open_world(self, case: Case) -> World:
        """A pristine world for the case's user, its clock at the instruction's timestamp."""
        template, start = self.template(case.user)
        return World(template, case.instruction.timestamp, tools=self._tools, start=start)


def builtin_rows(user: UserProfile) -> dict[str, list[dict[str, Any]]]:
    """Shared catalogues plus the user's own generated rows."""
    from tooltune.sandbox.catalogue import catalogue_rows
    from tooltune.sandbox.userdata import user_rows

    return {**catalogue_rows(), **user_rows(user)}


@lru_cache(maxsize=1)
def builtin_suite() -> Suite:
    """The built-in suite: 16+ users x 50+ instructions (one instance per process, templates cached)."""
    return Suite("tooltune", load_users(), load_cases(), builtin_rows)
