"""ReAct: the model writes Thought / Action / Action Input as text; the harness answers with Observation.

The model gets no native tools, only their schemas in the system prompt; its Action lines are read
with the model layer's text tool-call parser, and a line without Action is the final answer. The canonical trajectory still stores each parsed call as an OpenAI
tool call, so judges and checkers see every strategy the same way. The run's tool_choice travels as a
ReAct-format `ToolConstraint`, which local backends enforce with a grammar (one Thought line, then a
schema-valid Action / Action Input or a Final Answer); HTTP backends cannot, and ignore it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from tooltune.bench.episode import EpisodeState
from tooltune.bench.strategies.base import Strategy, assistant_message
from tooltune.models.toolcall_parser import parse_tool_calls
from tooltune.models.types import AssistantMessage, ChatRequest, GenerationConfig, Message, ToolCall, ToolConstraint

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

_FINAL = re.compile(r"^[ \t*]*Final[ \t]*Answer[ \t]*:\s*", re.MULTILINE | re.IGNORECASE)
_ACTION = re.compile(r"^[ \t*]*Action[ \t]*:", re.MULTILINE | re.IGNORECASE)
_OBSERVATION = re.compile(r"^[ \t*]*Observation[ \t]*:", re.MULTILINE | re.IGNORECASE)


@dataclass
class ReActStep:
    """One parsed ReAct answer: tool calls, a final answer, or readable errors."""

    calls: list[ToolCall] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    final: str | None = None


def parse_react(text: str | None) -> ReActStep:
    """Parse a ReAct answer; never raises. Text after a self-written 'Observation:' is ignored."""
    text = text or ""
    cut = _OBSERVATION.search(text)
    if cut:
        text = text[: cut.start()]
    final = _FINAL.search(text)
    action = _ACTION.search(text)
    if final and (action is None or final.start() < action.start()):
        return ReActStep(final=text[final.end():].strip())  # whatever follows the final answer is its text
    parsed = parse_tool_calls(text)
    if parsed.tool_calls or parsed.errors:
        return ReActStep(calls=list(parsed.tool_calls), errors=list(parsed.errors))
    return ReActStep(final=(text[final.end():] if final else text).strip())


class ReAct(Strategy):
    """Thought / Action / Action Input / Observation loop over plain text generation."""

    name = "react"

    def request(self, state: EpisodeState) -> ChatRequest:
        tools = json.dumps(state.toolbox.schemas(), ensure_ascii=False)
        instructions = REACT_INSTRUCTIONS.format(tools=tools)
        messages: list[Message] = []
        for message in [*state.trajectory, *self.answer_request(state)]:
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
        schemas = state.toolbox.schemas()
        constraint = ToolConstraint(schemas, self.turn_choice(state, schemas), "react") if schemas else None
        return ChatRequest(messages=messages, tools=None, constraint=constraint)

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
        if step.calls or step.errors:
            executed = self._run_calls(state, step.calls)
            state.trajectory.append(assistant_message(text, [c for c, _ in executed]))
            state.trajectory.extend(m for _, m in executed)
            if step.errors:
                state.trajectory.append(self._report_malformed(state, step.errors, REACT_HINT))
        else:
            state.trajectory.append(assistant_message(text, []))
            state.finish("answer")
