"""The agent-strategy interface: a step function from episode state to model request and back.

A strategy never runs a model itself: `request` says what to ask next, `advance` folds the answer
into the state (executing tool calls through the toolbox). The runner decides how answers are
produced (one by one, batched, or concurrently), so every strategy works with every backend.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import replace
from typing import Any

from tooltune.bench.episode import CallLog, EpisodeKey, EpisodeState
from tooltune.bench.toolbox import Toolbox, error_response, observation_text
from tooltune.models.types import AssistantMessage, ChatRequest, GenerationConfig, Message, ToolCall, ToolSchema, tool_names

DEFAULT_MAX_TURNS = 20
# The user's words before the answer turn (smolagents likewise asks for the final answer at its step limit).
FINAL_ANSWER_REQUEST: Message = {
    "role": "user",
    "content": "That is all the tool calls for this request. Now answer me in plain text, without calling a "
               "tool: what you did, and what I should know.",
}


class Strategy(ABC):
    """How an agent talks to the model: prompt layout, tool-call format, when an episode ends."""

    name: str = "strategy"

    def __init__(self, max_observation_chars: int = 2000, tool_choice: str = "auto",
                 answer_on_last_turn: bool = True, answer_on_repeat: bool = True) -> None:
        """`answer_on_last_turn`: the turn the budget allows last is asked for a final answer (tool_choice
        "none"), so an agent that is still calling tools ends with what it found instead of being cut off.
        `answer_on_repeat`: so is the turn after one that only repeated earlier calls (a loop)."""
        self.max_observation_chars = max_observation_chars
        self.tool_choice = tool_choice
        self.answer_on_last_turn = answer_on_last_turn
        self.answer_on_repeat = answer_on_repeat

    def choice_for(self, tools: list[ToolSchema]) -> str:
        """The run's tool_choice for a turn offering `tools`: a named tool that is not offered (yet), or
        "required" with nothing to call, leaves the turn at "auto"."""
        if self.tool_choice in ("auto", "none"):
            return self.tool_choice
        if self.tool_choice == "required":
            return "required" if tools else "auto"
        return self.tool_choice if self.tool_choice in tool_names(tools) else "auto"

    def answer_turn(self, state: EpisodeState) -> bool:
        """Whether the next turn must answer: the last the budget allows (`answer_on_last_turn`), or the one
        after a turn that only repeated earlier calls (`answer_on_repeat`)."""
        if not self.offers_tools(state):
            return False
        last = self.answer_on_last_turn and state.turn + 1 >= state.max_turns
        return last or (self.answer_on_repeat and state.repeated_itself())

    def offers_tools(self, state: EpisodeState) -> bool:
        """Whether the next turn offers tools (a planning turn does not)."""
        return True

    def turn_choice(self, state: EpisodeState, tools: list[ToolSchema]) -> str:
        """The tool_choice of the episode's next turn: "none" on the answer turn, the run's choice otherwise."""
        return "none" if self.answer_turn(state) else self.choice_for(tools)

    def answer_request(self, state: EpisodeState) -> list[Message]:
        """What the user says before the answer turn (nothing before other turns): that it is time to answer."""
        return [dict(FINAL_ANSWER_REQUEST)] if self.answer_turn(state) else []

    def begin(
        self, key: EpisodeKey, messages: list[Message], toolbox: Toolbox, max_turns: int = DEFAULT_MAX_TURNS
    ) -> EpisodeState:
        """A fresh state from the episode's opening messages (system + user query)."""
        if max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {max_turns}")
        return EpisodeState(key=key, trajectory=[dict(m) for m in messages], toolbox=toolbox, max_turns=max_turns)

    @abstractmethod
    def request(self, state: EpisodeState) -> ChatRequest:
        """The conversation (and tools) to send to the model for the next turn."""

    @abstractmethod
    def _consume(self, state: EpisodeState, answer: AssistantMessage) -> None:
        """Fold one answer into the state; strategy-specific."""

    def generation(self, base: GenerationConfig) -> GenerationConfig:
        """Decoding settings for this strategy (e.g. stop sequences); default: unchanged."""
        return base

    def advance(self, state: EpisodeState, answer: AssistantMessage) -> EpisodeState:
        """Apply the model's answer, run its tool calls, end the episode when it is over."""
        if state.finished:
            raise RuntimeError(f"episode {state.key.id} is already finished")
        state.trajectory.extend(self.answer_request(state))  # the request held it: so does the record
        state.turn += 1
        state.prompt_tokens += answer.usage.prompt_tokens
        state.completion_tokens += answer.usage.completion_tokens
        self._consume(state, answer)
        if not state.finished and state.turn >= state.max_turns:
            state.finish("max_turns")
        return state

    def fail(self, state: EpisodeState, reason: str) -> EpisodeState:
        """End an episode because the model could not answer (kept out of the trajectory)."""
        state.finish(reason)
        return state

    # -- helpers shared by the strategies ---------------------------------------------------------

    def _call_id(self, state: EpisodeState, index: int, proposed: str, used: set[str]) -> str:
        call_id = proposed if isinstance(proposed, str) and proposed and proposed not in used else ""
        if not call_id:
            call_id = f"call_{state.turn}_{index}"
        used.add(call_id)
        return call_id

    def _run_calls(self, state: EpisodeState, calls: list[ToolCall]) -> list[tuple[ToolCall, Message]]:
        """Execute calls in order; returns each (call with its final id, tool message)."""
        used: set[str] = set()
        out: list[tuple[ToolCall, Message]] = []
        for index, call in enumerate(calls):
            fixed = replace(call, id=self._call_id(state, index, call.id, used))
            response, executed = state.toolbox.execute(fixed.name, fixed.arguments)
            state.calls.append(CallLog(state.turn, fixed.id, str(fixed.name), fixed.arguments, response, executed))
            message = {
                "role": "tool",
                "tool_call_id": fixed.id,
                "name": str(fixed.name),
                "content": observation_text(response, self.max_observation_chars),
            }
            out.append((fixed, message))
        return out

    def _report_malformed(self, state: EpisodeState, errors: list[str], hint: str) -> Message:
        """Record malformed calls and build the error observation the model will read."""
        for error in errors:
            state.malformed.append({"turn": state.turn, "error": error})
        body = error_response("malformed_tool_call", "; ".join(errors) + (f". {hint}" if hint else ""))
        return {"role": "user", "content": "Error: " + json.dumps(body, ensure_ascii=False)}


def assistant_message(content: str | None, calls: list[ToolCall]) -> Message:
    """An OpenAI assistant message, with tool calls when there are any."""
    message: Message = {"role": "assistant", "content": content}
    if calls:
        message["tool_calls"] = [_openai_call(c) for c in calls]
    return message


def _openai_call(call: ToolCall) -> dict[str, Any]:
    arguments = call.arguments
    text = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False, default=str)
    return {"id": call.id, "type": "function", "function": {"name": str(call.name), "arguments": text}}
