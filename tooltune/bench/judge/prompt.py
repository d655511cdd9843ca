"""The key-point judge prompt (written for tooltune, in the spirit of ETAPP's judge).

The judge sees the query, the user's persona and concrete preferences for the apps involved, the
key points, and the trajectory. Only tool calls whose results appear in the trajectory count.
"""

from __future__ import annotations

import json
from typing import Any

from tooltune.bench.judge.schema import NOT_APPLICABLE, PROCEDURE_POINTS
from tooltune.models.types import Message

PROMPT_VERSION = "etapp-style-v1"

SYSTEM = """You are a strict and fair evaluator of a personal assistant agent that uses tools.
Judge the agent's trajectory on three dimensions:

1. Procedure: four fixed sub-points:
{procedure}
2. Personalization: one entry per personalization key point below: did the agent use the user's
   profile and concrete preferences as the key point asks?
3. Proactivity: one entry per proactivity key point below: did the agent anticipate needs, offer
   helpful extra suggestions or ask relevant follow-up questions as the key point asks?

Rules:
- A tool call counts only if its result appears in the trajectory. Claims without tool results do not count.
- Score every sub-point 0 (not met), 1 (partly met) or 2 (fully met). Use "{na}" only when the point
  cannot be met for objective reasons (e.g. the required data does not exist), and say why.
- Write a short analysis for every sub-point before its score.
- Then give each dimension a final score from 0 (very poor) to 5 (excellent), consistent with its sub-points.

Answer with ONE JSON object and nothing else, exactly in this shape:
{shape}"""

SHAPE = {
    "procedure": {"subpoints": [{"name": "completeness", "analysis": "...", "score": 2}, "... 4 entries"],
                  "final_score": 4},
    "personalization": {"subpoints": [{"keypoint": 1, "analysis": "...", "score": 1}, "... one per key point"],
                        "final_score": 3},
    "proactivity": {"subpoints": [{"keypoint": 1, "analysis": "...", "score": 0}, "... one per key point"],
                    "final_score": 2},
}


def render_trajectory(trajectory: list[Message]) -> str:
    """The conversation as numbered plain text, tool calls and results spelled out."""
    lines = []
    for index, message in enumerate(trajectory):
        role = message.get("role")
        if role == "system":
            continue
        if role == "tool":
            lines.append(f"[{index}] TOOL RESULT ({message.get('name', '')}): {message.get('content')}")
            continue
        content = message.get("content") or ""
        if content:
            lines.append(f"[{index}] {str(role).upper()}: {content}")
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            lines.append(f"[{index}] TOOL CALL {function.get('name')}({function.get('arguments')})")
    return "\n".join(lines)


def render_keypoints(texts: list[str]) -> str:
    return "\n".join(f"  {i}. {t}" for i, t in enumerate(texts, 1)) or "  (none: give an empty list)"


def judge_messages(
    query: str, profile: str, context: str, personal: list[str], proactive: list[str], trajectory: list[Message]
) -> list[Message]:
    """System + user messages asking for one JSON verdict."""
    procedure = "\n".join(f"   - {name}: {text}" for name, text in PROCEDURE_POINTS)
    system = SYSTEM.format(procedure=procedure, na=NOT_APPLICABLE, shape=json.dumps(SHAPE, indent=1))
    user = (
        f"User query: {query}\n{context}\n\nUser profile and preferences:\n{profile}\n\n"
        f"Personalization key points ({len(personal)}):\n{render_keypoints(personal)}\n\n"
        f"Proactivity key points ({len(proactive)}):\n{render_keypoints(proactive)}\n\n"
        f"Agent trajectory:\n{render_trajectory(trajectory)}\n\n"
        "Give the JSON verdict now."
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def extract_json(text: str | None) -> Any:
    """The first complete JSON object in a model answer (code fences and prose around it allowed)."""
    if not text:
        raise ValueError("the answer is empty")
    start = text.find("{")
    while start != -1:
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:])
            return value
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
    raise ValueError("no JSON object found in the answer")
