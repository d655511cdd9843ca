"""A model that replays scripted answers: the mock backend for tests and harness benchmarks."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from tooltune.models.base import ChatModel, ModelError
from tooltune.models.types import AssistantMessage, GenerationConfig, Message, ToolChoice, ToolSchema

ScriptStep = AssistantMessage | Callable[[list[Message], list[ToolSchema] | None], AssistantMessage]


class ScriptedModel(ChatModel):
    """Returns the next scripted step on each call; a step may be a function of the conversation.

    A step that is a callable receives (messages, tools) and returns the answer, which lets a test
    write a policy (e.g. "call the tool named in the last observation") instead of a fixed list.
    """

    name = "scripted"

    def __init__(self, steps: Iterable[ScriptStep] | ScriptStep, *, repeat_last: bool = False) -> None:
        self._policy = steps if callable(steps) else None
        self._steps = [] if self._policy else list(steps)  # type: ignore[arg-type]
        self._repeat_last = repeat_last
        self.calls: list[list[Message]] = []
        self.tool_choices: list[ToolChoice | None] = []  # what each call was asked (scripts ignore it)

    def chat(
        self,
        messages: list[Message],
        tools: list[ToolSchema] | None = None,
        config: GenerationConfig | None = None,
        *,
        tool_choice: ToolChoice | None = None,
    ) -> AssistantMessage:
        self.calls.append(list(messages))
        self.tool_choices.append(tool_choice)
        if self._policy is not None:
            return self._policy(messages, tools)
        index = len(self.calls) - 1
        if index >= len(self._steps):
            if not (self._repeat_last and self._steps):
                raise ModelError(f"scripted model ran out of steps after {len(self._steps)} calls")
            index = len(self._steps) - 1
        step = self._steps[index]
        return step(messages, tools) if callable(step) else step
