"""The key-point judge prompt (written for tooltune, in the spirit of ETAPP's judge).

The judge sees the query, the user's persona and concrete preferences for the apps involved, the
key points, and the trajectory. Only tool calls whose results appear in the trajectory count. Each
dimension's final 0-5 score follows a graded rubric (`RUBRIC`), written for tooltune after the level
descriptions of ETAPP's judge: what the agent must have shown to earn each level.
"""

from __future__ import annotations

import json
from typing import Any

from tooltune.bench.judge.schema import DIMENSIONS, NOT_APPLICABLE, PROCEDURE_POINTS
from tooltune.models.types import Message

PROMPT_VERSION = "etapp-style-v2"  # v2: graded 0-5 rubric per dimension

RUBRIC: dict[str, dict[int, str]] = {
    "procedure": {
        5: "Every part of the request is done with the right tools and correct arguments, each result is "
           "shown, nothing is redundant, and the final answer reports the results accurately and clearly.",
        4: "The request is fully done, with one minor flaw: a redundant or repeated call, an argument error the "
           "agent noticed and fixed, or a summary that leaves out a detail.",
        3: "The main part is done, but one part of the request is missing or wrong, or there are several minor "
           "flaws.",
        2: "Only part of the request is done: important calls are missing, fail or use wrong arguments, or the "
           "answer misreports what the tools returned.",
        1: "A relevant attempt that does not accomplish the request: the needed calls fail or are never made, "
           "and the answer gives no usable result.",
        0: "Nothing relevant is done, or the answer claims results no tool returned.",
    },
    "personalization": {
        5: "Every applicable personalization key point is fully met: the tool arguments and choices follow the "
           "user's concrete preferences and data (volume, budget, contacts, cuisines, reminder times...).",
        4: "All applicable key points are met, but one only partly (e.g. the right kind of choice but a value "
           "slightly off the user's preference).",
        3: "About half or more of the key points are fully met; the others are partly met or missed.",
        2: "Only one or two key points are met, or several only partly: the actions are mostly generic.",
        1: "A faint trace of the user: the profile is mentioned, but the actions use generic defaults.",
        0: "No sign of the user's preferences, or actions that go against them.",
    },
    "proactivity": {
        5: "Every applicable proactivity key point is fully met: the agent made the checks a thoughtful "
           "assistant would (calendar, weather, health, mail...), acted on what they showed (adapting the plan, "
           "warning about a clash or a risk, setting a reminder) and offered relevant next steps.",
        4: "All applicable key points are met but one only partly: e.g. a check was made but its result only "
           "half used, or a relevant warning is vague.",
        3: "Several key points are met, but an important anticipation is missed, or checks are made without "
           "acting on what they showed.",
        2: "Little beyond the request: one relevant extra step, or only generic offers ('anything else?') not "
           "tied to the user's situation.",
        1: "A token gesture: an unrelated or boilerplate suggestion, no extra check or action.",
        0: "Only the literal request; nothing is anticipated, checked or offered.",
    },
}
"""dimension -> final score -> what the trajectory must show to earn it."""

SYSTEM = """You are a strict and fair evaluator of a personal assistant agent that uses tools.
Judge the agent's trajectory on three dimensions:

1. Procedure: four fixed sub-points:
{procedure}
2. Personalization: one entry per personalization key point below: did the agent use the user's
   profile and concrete preferences as the key point asks?
3. Proactivity: one entry per proactivity key point below: did the agent anticipate needs as the key
   point asks: check what a careful assistant would check, act on what it found (adapt, warn, remind),
   offer helpful extra suggestions or ask relevant follow-up questions?

Rules:
- A tool call counts only if its result appears in the trajectory. Claims without tool results do not count.
- Score every sub-point 0 (not met), 1 (partly met) or 2 (fully met). Use "{na}" only when the point
  cannot be met for objective reasons (e.g. the required data does not exist), and say why.
- Write a short analysis for every sub-point before its score.
- Then give each dimension a final score from 0 to 5 with the rubric below, consistent with its applicable
  sub-points (if all of a dimension's sub-points are "{na}", score it from the rest of the trajectory).

Final score rubric:
{rubric}

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


def render_rubric() -> str:
    """Each dimension with its six levels, best first."""
    return "\n".join(f"{name.capitalize()}:\n"
                     + "\n".join(f"  {level}: {RUBRIC[name][level]}" for level in range(5, -1, -1))
                     for name in DIMENSIONS)


def render_keypoints(texts: list[str]) -> str:
    return "\n".join(f"  {i}. {t}" for i, t in enumerate(texts, 1)) or "  (none: give an empty list)"


def judge_messages(
    query: str, profile: str, context: str, personal: list[str], proactive: list[str], trajectory: list[Message]
) -> list[Message]:
    """System + user messages asking for one JSON verdict."""
    procedure = "\n".join(f"   - {name}: {text}" for name, text in PROCEDURE_POINTS)
    system = SYSTEM.format(procedure=procedure, na=NOT_APPLICABLE, rubric=render_rubric(),
                           shape=json.dumps(SHAPE, indent=1))
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
