"""Users of the sandbox: a persona and concrete tool-use preferences per app.

The people are hand-written in `data/users.json` (persona, preferences, a few personal facts such as
contacts and home); `userdata.py` derives their app data (calendar, mail, health...) from it with a seeded
generator, so that what the apps hold agrees with what the profile says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any


@dataclass
class UserProfile:
    """One person: `persona` (who they are) and `preferences` (app -> concrete tool-use preferences)."""

    id: str
    name: str
    persona: dict[str, Any]
    preferences: dict[str, dict[str, Any]]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def email(self) -> str:
        return self.facts["email"]

    @property
    def city(self) -> str:
        return self.persona["location"]

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    def pref(self, path: str) -> Any:
        """A preference by dotted path, e.g. 'music.volume'; KeyError names the missing part."""
        return lookup(self.preferences, path, f"user {self.id} preferences")


def lookup(tree: Any, path: str, where: str) -> Any:
    """Follow a dotted path through nested dicts/lists (list parts are indices)."""
    node = tree
    for part in path.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(f"{where}: no '{path}' (missing '{part}')")
    return node


@lru_cache(maxsize=1)
def _raw_users() -> tuple[dict, ...]:
    text = resources.files("tooltune.sandbox").joinpath("data/users.json").read_text(encoding="utf-8")
    return tuple(json.loads(text))


def load_users() -> list[UserProfile]:
    """The built-in users (at least 16), in a stable order."""
    users = []
    for raw in _raw_users():
        raw = json.loads(json.dumps(raw))  # callers may mutate their copy
        users.append(UserProfile(raw["id"], raw["name"], raw["persona"], raw["preferences"], raw.get("facts", {})))
    return users


def get_user(key: str, users: list[UserProfile] | None = None) -> UserProfile:
    """A user by id ('maya_chen') or name ('Maya Chen', case-insensitive)."""
    users = users if users is not None else load_users()
    wanted = key.strip().lower().replace(" ", "_")
    for user in users:
        if user.id == wanted or user.name.lower().replace(" ", "_") == wanted:
            return user
    raise KeyError(f"no user {key!r}; known users: {[u.id for u in users]}")
