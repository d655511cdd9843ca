"""The start of every episode: a system message (time, place, profile) and the user's query."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tooltune.sandbox.cases import Case
from tooltune.sandbox.users import UserProfile

PERSONA_FIELDS = ("age", "gender", "location", "occupation", "character", "interests", "lifestyle", "household",
                  "income", "education")


def _value(value: Any) -> str:
    if isinstance(value, list):
        if value and all(isinstance(v, dict) for v in value):
            return "; ".join(f"{v.get('name')} <{v.get('email')}> ({v.get('relation')})" for v in value)
        if len(value) == 2 and all(isinstance(v, (int, float)) for v in value):
            return f"{value[0]}-{value[1]}"
        return ", ".join(map(str, value))
    return str(value)


def render_profile(user: UserProfile, apps: list[str] | None = None) -> str:
    """Persona plus the concrete preferences of `apps` (all apps when None), as compact text."""
    lines = [f"Name: {user.name}"]
    lines += [f"{key.capitalize()}: {_value(user.persona[key])}" for key in PERSONA_FIELDS if key in user.persona]
    wanted = apps if apps is not None else list(user.preferences)
    for app in wanted:
        prefs = user.preferences.get(app)
        if prefs:
            items = "; ".join(f"{key.replace('_', ' ')}: {_value(value)}" for key, value in prefs.items())
            lines.append(f"{app.replace('_', ' ').capitalize()} preferences: {items}")
    return "\n".join(lines)


def system_prompt(case: Case, include_profile: bool = True) -> str:
    """Time, location and (by default) the user's profile for the apps the instruction involves."""
    instruction, user = case.instruction, case.user
    moment = datetime.strptime(instruction.timestamp, "%Y-%m-%d %H:%M:%S")
    place = f"{instruction.location} in {user.city}"
    text = (
        f"You are the personal assistant of {user.name}. Use the available tools to carry out the request, "
        "take the user's preferences into account, and be proactive: mention what the user should know "
        "and offer useful follow-ups. Finish with a clear summary of what you did.\n"
        f"Current time: {instruction.timestamp} ({moment.strftime('%A')}).\nUser location: {place}."
    )
    if include_profile:
        text += "\n\nUser profile:\n" + render_profile(user, instruction.apps)
    return text


def episode_messages(case: Case, include_profile: bool = True) -> list[dict]:
    """[system, user] messages that start the episode of `case`."""
    return [
        {"role": "system", "content": system_prompt(case, include_profile)},
        {"role": "user", "content": case.instruction.query},
    ]
