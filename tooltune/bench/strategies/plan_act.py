"""Plan-then-act (E-ReAct style): first a written plan without tool calls, then function calling."""

from __future__ import annotations

from tooltune.bench.episode import EpisodeKey, EpisodeState
from tooltune.bench.strategies.base import DEFAULT_MAX_TURNS
from tooltune.bench.strategies.fc import FunctionCalling
from tooltune.bench.toolbox import Toolbox, schema_name
from tooltune.models.types import AssistantMessage, ChatRequest, Message

PLAN_PROMPT = (
    "Before doing anything, write a short numbered plan of the steps (and tools) you will use to "
    "help me, taking my profile and preferences into account. Do not call any tool yet.\n"
    "Tools you can use now:\n{tools}"
)
ACT_PROMPT = "Now carry out your plan step by step with the tools, then give me your final answer."


class PlanThenAct(FunctionCalling):
    """Turn 1 writes a plan (tools listed in text, none callable); later turns are FC."""

    name = "plan"

    def begin(self, key: EpisodeKey, messages: list[Message], toolbox: Toolbox,
              max_turns: int = DEFAULT_MAX_TURNS) -> EpisodeState:
        state = super().begin(key, messages, toolbox, max_turns)
        lines = []
        for schema in toolbox.schemas():
            description = str(schema.get("function", {}).get("description", "")).split("\n")[0]
            lines.append(f"- {schema_name(schema)}: {description}")
        state.trajectory.append({"role": "user", "content": PLAN_PROMPT.format(tools="\n".join(lines))})
        state.phase = "plan"
        return state

    def offers_tools(self, state: EpisodeState) -> bool:
        return state.phase != "plan"

    def request(self, state: EpisodeState) -> ChatRequest:
        if state.phase == "plan":
            return ChatRequest(messages=list(state.trajectory), tools=None)
        return super().request(state)

    def _consume(self, state: EpisodeState, answer: AssistantMessage) -> None:
        if state.phase != "plan":
            super()._consume(state, answer)
            return
        text = answer.content or answer.raw_text or ""
        if answer.tool_calls:
            text = (text + "\n" if text else "") + "(tool calls written during planning were not run)"
        state.trajectory.append({"role": "assistant", "content": text})
        state.trajectory.append({"role": "user", "content": ACT_PROMPT})
        state.phase = "act"
