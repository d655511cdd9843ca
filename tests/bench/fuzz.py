"""Seeded generators of malformed model output, for the agent-loop fuzz test."""

from __future__ import annotations

import json
import random
from typing import Any

from tooltune.models.types import AssistantMessage, ToolCall

WEIRD_NAMES: list[Any] = ["", " ", "play_music ", "PLAY_MUSIC", "play-music", "search_tools()", "rm -rf /", "🎵",
                          "x" * 5000, "__import__('os')", "get_tool_doc\n", None, 42, 3.5, ["play_music"],
                          {"name": "play_music"}, "null", "undefined", "../etc/passwd", "'; DROP TABLE events; --"]


def weird_value(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(12)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.randint(-10**12, 10**12)
    if choice == 3:
        return rng.choice([float("inf"), float("-inf"), float("nan"), 1e308, -0.0])
    if choice == 4:
        return "".join(chr(rng.randrange(1, 0x2FFF)) for _ in range(rng.randrange(0, 40)))
    if choice == 5 and depth < 3:
        return [weird_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    if choice == 6 and depth < 3:
        return {str(weird_value(rng, depth + 1))[:20]: weird_value(rng, depth + 1) for _ in range(rng.randrange(0, 4))}
    if choice == 7:
        return "2024-13-45 25:61:00"
    if choice == 8:
        return "x" * rng.randrange(1000, 20000)
    return rng.choice(["", "35", "loud", "{", "}", "\\", "\x00", "Clair de Lune"])


def weird_arguments(rng: random.Random, tool_names: list[str]) -> Any:
    choice = rng.randrange(8)
    if choice == 0:
        return weird_value(rng)  # not an object at all
    if choice == 1:
        return '{"music_name": "A", "volume_level": '  # truncated JSON string
    if choice == 2:
        return "not json"
    if choice == 3:
        return {}
    if choice == 4:
        return {"volume_level": weird_value(rng), "music_name": weird_value(rng)}
    return {str(weird_value(rng))[:30]: weird_value(rng) for _ in range(rng.randrange(1, 5))}


def malformed_fc_answer(rng: random.Random, tool_names: list[str]) -> AssistantMessage:
    """An answer with 1-3 broken tool calls and/or parse errors (never a clean final answer)."""
    calls = []
    for i in range(rng.randrange(1, 4)):
        name = rng.choice(WEIRD_NAMES + tool_names)
        calls.append(ToolCall(id=rng.choice(["", "dup", f"c{i}", None]), name=name,  # type: ignore[arg-type]
                              arguments=weird_arguments(rng, tool_names)))
    errors = [] if rng.random() < 0.6 else ["tool call " + str(weird_value(rng))[:50]]
    content = rng.choice([None, "", "<tool_call>{", str(weird_value(rng))[:200]])
    return AssistantMessage(content=content, tool_calls=calls, parse_errors=errors,
                            raw_text=rng.choice([None, "<tool_call>{\"name\": 1}"]))


def malformed_react_text(rng: random.Random, tool_names: list[str]) -> str:
    """ReAct text with an Action line that is broken in one of many ways."""
    name = rng.choice([str(n) for n in WEIRD_NAMES] + tool_names)
    body = rng.choice([
        json.dumps(weird_value(rng), default=str)[:300], "{", '{"a": }', "[1,2]", "", "None", "```json\n{\n```",
        json.dumps({"music_name": weird_value(rng), "volume_level": weird_value(rng)}, default=str)[:500],
    ])
    lines = [f"Thought: {str(weird_value(rng))[:80]}", f"Action: {name}"]
    if rng.random() < 0.85:
        lines.append(f"Action Input: {body}")
    if rng.random() < 0.2:
        lines.append("Observation: I made this up")
    return "\n".join(lines)
