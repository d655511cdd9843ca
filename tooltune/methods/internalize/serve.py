"""Serving one user with the adapter their profile was internalized into: the agent's opening as the benchmark
writes it, for that user, with no profile in the prompt (what the adapter's last stage was trained on)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from tooltune.methods.internalize.errors import InternalizeError


def internalized_user(adapter: str | Path) -> dict[str, Any] | None:
    """The metadata of a profile-internalized adapter (`user`, `apps`), or None for any other adapter."""
    from tooltune.adapters.io import CONFIG_NAME

    path = Path(adapter) / CONFIG_NAME
    try:
        metadata = json.loads(path.read_text(encoding="utf-8")).get("metadata") or {}
    except (OSError, ValueError, AttributeError):
        return None  # loading the adapter reports what is wrong with it
    if metadata.get("method") == "internalize" and isinstance(metadata.get("user"), str):
        return metadata
    return None


def user_opening(user_id: str, message: str, apps: list[str] | None = None, *, now: datetime | None = None,
                 location: str = "Home") -> list[dict]:
    """[system, user] messages for `user_id` at `now` (default: this moment): the benchmark's personal-assistant
    system prompt without the profile, then `message`."""
    from tooltune.sandbox.cases import Case, Instruction
    from tooltune.sandbox.prompts import episode_messages
    from tooltune.sandbox.users import get_user

    try:
        user = get_user(user_id)
    except (KeyError, LookupError) as exc:
        raise InternalizeError(f"user: no sandbox user {user_id!r} (named by the adapter's metadata)") from exc
    moment = (now or datetime.now()).strftime("%Y-%m-%d %H:%M:%S")
    instruction = Instruction(id="chat", query=message, timestamp=moment, location=location, apps=list(apps or []),
                              tools=[])
    return episode_messages(Case(f"chat@{user.id}", instruction, user), include_profile=False)
