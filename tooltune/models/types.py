"""Message and tool-call types shared by every backend (OpenAI chat-completions conventions)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

Message = dict[str, Any]
"""An OpenAI-style chat message: {"role": ..., "content": ..., optional "tool_calls"/"tool_call_id"}."""

ToolSchema = dict[str, Any]
"""An OpenAI function tool: {"type": "function", "function": {"name", "description", "parameters"}}."""


@dataclass
class ToolCall:
    """One structured call of a tool by the model; `arguments` is already decoded from JSON."""

    id: str
    name: str
    arguments: dict[str, Any]

    def to_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": json.dumps(self.arguments, ensure_ascii=False)},
        }


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class AssistantMessage:
    """What a backend returns: text and/or tool calls, plus what could not be parsed.

    `parse_errors` holds a readable description of each malformed tool call found in the text; the
    agent loop shows them to the model as error observations instead of raising.
    """

    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    parse_errors: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    raw_text: str | None = None

    def to_openai(self) -> Message:
        message: Message = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = [call.to_openai() for call in self.tool_calls]
        return message


@dataclass
class GenerationConfig:
    """Decoding knobs common to all backends; temperature 0 means greedy."""

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    stop: list[str] | None = None


@dataclass
class ChatRequest:
    """One conversation to continue, for batched generation."""

    messages: list[Message]
    tools: list[ToolSchema] | None = None
