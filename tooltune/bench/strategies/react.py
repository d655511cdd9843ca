"""ReAct: the model writes Thought / Action / Action Input as text; the harness answers with Observation.

The text format is parsed here (not by the backend): the model gets no native tools, only their
schemas in the system prompt. The canonical trajectory still stores each parsed call as an OpenAI
tool call, so judges and checkers see every strategy the same way.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

from tooltune.bench.episode import EpisodeState
from tooltune.bench.strategies.base import Strategy, assistant_message
from tooltune.models.types import AssistantMessage, ChatRequest, GenerationConfig, Message, ToolCall

REACT_INSTRUCTIONS = """You can use tools. Answer in this format:
Thought: what you think about the next step
Action: the name of one tool
Action Input: the tool's arguments as a JSON object
Then stop and wait; the Observation (the tool's result) will be given to you. Repeat as needed.
When you have everything you need, write:
Thought: I can now answer
Final Answer: your answer to the user

Tools (OpenAI function schemas):
{tools}"""

REACT_HINT = "Write 'Action: <tool name>' and 'Action Input: <JSON object>', or 'Final Answer: <text>'."

_ACTION = re.compile(r"^[ \t*]*Action[ \t]*:[ \t]*(.*)$", re.MULTILINE | re.IGNORECASE)
_INPUT = re.compile(r"^[ \t*]*Action[ \t]*Input[ \t]*:\s*", re.MULTILINE | re.IGNORECASE)
_FINAL = re.compile(r"^[ \t*]*Final[ \t]*Answer[ \t]*:\s*", re.MULTILINE | re.IGNORECASE)
_OBSERVATION = re.compile(r"^[ \t*]*Observation[ \t]*:", re.MULTILINE | re.IGNORECASE)


@dataclass
class ReActStep:
    """One parsed ReAct answer: an action with arguments, a final answer, or an error."""

    action: str | None = None
    arguments: dict | None = None
    final: str | None = None
    error: str | None = None


def parse_react(text: str) -> ReActStep:
    """Parse a ReAct answer; never raises. Text after a self-written 'Observation:' is ignored."""
    text = text or ""
    cut = _OBSERVATION.search(text)
    if cut:
        text = text[: cut.start()]
    action = _ACTION.search(text)
    if action is None:
        final = _FINAL.search(text)
        answer = text[final.end():] if final else text
        return ReActStep(final=answer.strip())
    name = action.group(1).strip().strip("`'\"[]").strip()
    if not name:
        return ReActStep(error="'Action:' names no tool")
    found = _INPUT.search(text, action.end())
    if found is None:
        return ReActStep(action=name, error=f"'Action: {name}' has no 'Action Input:' line")
    raw = text[found.end():].strip()
    if raw.startswith("```"):
        raw = raw.strip("`").removeprefix("json").strip()
    if raw in ("", "{}", "None", "none", "null"):
        return ReActStep(action=name, arguments={})
    start = raw.find("{")
    if start != 0:
        return ReActStep(action=name, error=f"Action Input of {name!r} is not a JSON object: {raw[:80]!r}")
    try:
        value, _ = json.JSONDecoder().raw_decode(raw)
    except json.JSONDecodeError as exc:
        return ReActStep(action=name, error=f"Action Input of {name!r} is not valid JSON ({exc.msg}): {raw[:80]!r}")
    if not isinstance(value, dict):
        return ReActStep(action=name, error=f"Action Input of {name!r} must be a JSON object")
    return ReActStep(action=name, arguments=value)


class ReAct(Strategy):
    """Thought / Action / Action Input / Observation loop over plain text generation."""

    name = "react"

    def request(self, state: EpisodeState) -> ChatRequest:
        tools = json.dumps(state.toolbox.schemas(), ensure_ascii=False)
        instructions = REACT_INSTRUCTIONS.format(tools=tools)
        messages: list[Message] = []
        for message in state.trajectory:
            role = message.get("role")
            if role == "system":
                messages.append({"role": "system", "content": f"{message.get('content') or ''}\n\n{instructions}"})
            elif role == "assistant":
                messages.append({"role": "assistant", "content": message.get("content") or ""})
            elif role == "tool":
                messages.append({"role": "user", "content": f"Observation: {message.get('content')}"})
            else:
                messages.append(dict(message))
        if not any(m["role"] == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": instructions})
        return ChatRequest(messages=messages, tools=None)

    def generation(self, base: GenerationConfig) -> GenerationConfig:
        return replace(base, stop=list(base.stop or []) + ["\nObservation:"])

    def _consume(self, state: EpisodeState, answer: AssistantMessage) -> None:
        text = answer.raw_text if answer.raw_text is not None else (answer.content or "")
        if answer.tool_calls:  # a backend that insisted on native calls: honour them as actions
            executed = self._run_calls(state, list(answer.tool_calls))
            state.trajectory.append(assistant_message(text, [c for c, _ in executed]))
            state.trajectory.extend(m for _, m in executed)
            return
        step = parse_react(text)
        if step.error is not None:
            state.trajectory.append(assistant_message(text, []))
            state.trajectory.append(self._report_malformed(state, [step.error], REACT_HINT))
        elif step.action is not None:
            call = ToolCall(id="", name=step.action, arguments=step.arguments or {})
            executed = self._run_calls(state, [call])
            state.trajectory.append(assistant_message(text, [c for c, _ in executed]))
            state.trajectory.extend(m for _, m in executed)
        else:
            state.trajectory.append(assistant_message(text, []))
            state.finish("answer")
