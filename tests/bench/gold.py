"""Scripted agents that replay the sandbox's gold trajectories (to test the harness end to end)."""

from __future__ import annotations

import json
from typing import Any

from tooltune.models.types import AssistantMessage, ToolCall


def gold_answers(gold: list[dict]) -> list[dict]:
    return [m for m in gold if m["role"] == "assistant"]


def as_answer(message: dict[str, Any], react: bool = False) -> AssistantMessage:
    calls = [ToolCall(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"] or "{}"))
             for c in message.get("tool_calls") or []]
    if not react:
        return AssistantMessage(content=message.get("content"), tool_calls=calls)
    if not calls:
        return AssistantMessage(content=f"Thought: I can now answer\nFinal Answer: {message.get('content')}")
    text = "\n".join(f"Thought: next step\nAction: {c.name}\nAction Input: {json.dumps(c.arguments)}" for c in calls)
    return AssistantMessage(content=text)


class GoldReplay:
    """A policy keyed by the episode's opening: replays that case's gold assistant turns in order.

    In the retrieval setting it first looks up each gold tool with get_tool_doc, which makes it callable.
    """

    def __init__(self, golds: dict[str, list[dict]]) -> None:
        self.golds = golds  # opening text (system + user) -> gold trajectory

    def __call__(self, messages: list[dict], tools: list[dict] | None) -> AssistantMessage:
        key = messages[0]["content"].split("\n\nYou can use tools.")[0] + "\x00" + messages[1]["content"]
        gold = self.golds[key]
        react = tools is None and "Action Input" in messages[0]["content"]
        offered = {t["function"]["name"] for t in tools or []}
        if self._looking_up(gold, offered):
            needed = [c["function"]["name"] for m in gold_answers(gold) for c in m.get("tool_calls") or []]
            missing = [n for n in dict.fromkeys(needed) if n not in offered]
            if missing:
                return AssistantMessage(tool_calls=[ToolCall("doc", "get_tool_doc", {"name": missing[0]})])
        done = sum(1 for m in messages if m["role"] == "assistant")
        lookups = sum(1 for m in messages if m["role"] == "assistant" and "get_tool_doc" in json.dumps(m))
        plans = 1 if any("numbered plan" in str(m.get("content")) for m in messages if m["role"] == "user") else 0
        if plans and done == 0:
            return AssistantMessage(content="1. Use the tools. 2. Summarise.")
        return as_answer(gold_answers(gold)[done - lookups - plans], react)

    @staticmethod
    def _looking_up(gold: list[dict], offered: set[str]) -> bool:
        return "search_tools" in offered and any(
            c["function"]["name"] not in offered for m in gold_answers(gold) for c in m.get("tool_calls") or [])
