"""The one interface every model backend implements."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod

from tooltune.errors import RunFailure
from tooltune.models.types import AssistantMessage, ChatRequest, GenerationConfig, Message, ToolChoice, ToolSchema


class ModelError(RunFailure):
    """A backend could not produce an answer (server unreachable after retries, missing weights...)."""


class ChatModel(ABC):
    """Give it OpenAI-style messages and tools, get back an assistant message.

    Local backends override `chat_batch` to generate several conversations in one forward pass;
    HTTP backends override `achat` so that many episodes can be in flight at once.
    """

    name: str = "model"
    load_seconds: float | None = None  # set by load_model: how long the weights took to load

    @abstractmethod
    def chat(
        self,
        messages: list[Message],
        tools: list[ToolSchema] | None = None,
        config: GenerationConfig | None = None,
        *,
        tool_choice: ToolChoice | None = None,
    ) -> AssistantMessage:
        """Continue one conversation; `tool_choice` as in OpenAI's API (None: auto)."""

    def chat_batch(
        self, requests: list[ChatRequest], config: GenerationConfig | None = None
    ) -> list[AssistantMessage]:
        """Continue several conversations; the default runs them one after another."""
        return [self.chat(r.messages, r.tools, config, **r.chat_options()) for r in requests]

    async def achat(
        self,
        messages: list[Message],
        tools: list[ToolSchema] | None = None,
        config: GenerationConfig | None = None,
        *,
        tool_choice: ToolChoice | None = None,
    ) -> AssistantMessage:
        """Asynchronous `chat`; the default runs the blocking call in a worker thread."""
        options = ChatRequest(messages, tools, tool_choice).chat_options()
        return await asyncio.to_thread(lambda: self.chat(messages, tools, config, **options))

    @property
    def supports_batching(self) -> bool:
        return type(self).chat_batch is not ChatModel.chat_batch

    def close(self) -> None:
        """Release resources (HTTP clients, GPU memory)."""
