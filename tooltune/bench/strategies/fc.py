"""FC: the model calls tools through the backend's function calling (native, or parsed from text)."""

from __future__ import annotations

from tooltune.bench.episode import EpisodeState
from tooltune.bench.strategies.base import Strategy, assistant_message
from tooltune.models.types import AssistantMessage, ChatRequest

FC_HINT = "Call tools with a valid name and JSON object arguments, or answer the user without a tool call."


class FunctionCalling(Strategy):
    """Each turn: tools offered, answer may hold tool calls; a plain answer ends the episode."""

    name = "fc"

    def request(self, state: EpisodeState) -> ChatRequest:
        tools = state.toolbox.schemas()
        return ChatRequest(messages=[*state.trajectory, *self.answer_request(state)], tools=tools,
                           tool_choice=self.turn_choice(state, tools))

    def _consume(self, state: EpisodeState, answer: AssistantMessage) -> None:
        content = answer.content
        if not content and answer.parse_errors:
            content = answer.raw_text
        executed = self._run_calls(state, list(answer.tool_calls))
        state.trajectory.append(assistant_message(content, [call for call, _ in executed]))
        state.trajectory.extend(message for _, message in executed)
        if answer.parse_errors:
            state.trajectory.append(self._report_malformed(state, list(answer.parse_errors), FC_HINT))
        if not executed and not answer.parse_errors:
            state.finish("answer")
