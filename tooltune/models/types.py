"""Message and tool-call types shared by every backend (OpenAI chat-completions conventions)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

Message = dict[str, Any]
"""An OpenAI-style chat message: {"role": ..., "content": ..., optional "tool_calls"/"tool_call_id"}."""

ToolSchema = dict[str, Any]
"""An OpenAI function tool: {"type": "function", "function": {"name", "description", "parameters"}}."""

ToolChoice = str | dict[str, Any]
"""OpenAI `tool_choice`: "auto", "required", "none", {"type": "function", "function": {"name": ...}},
or (a convenience) the bare function name."""

CallFormat = Literal["tool_call", "react"]
"""How a model writes calls: `<tool_call>{"name", "arguments"}</tool_call>` blocks, or ReAct Action lines."""

TOOL_CHOICE_MODES = ("auto", "required", "none")
CALL_FORMATS = ("tool_call", "react")
_FUNCTION_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,64}")


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


def tool_names(tools: list[ToolSchema] | None) -> list[str]:
    """Names of OpenAI function tools (entries without a name are skipped)."""
    names = []
    for tool in tools or []:
        function = tool.get("function", tool) if isinstance(tool, dict) else {}
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            names.append(function["name"])
    return names


def is_function_name(name: str) -> bool:
    """Whether `name` is a valid OpenAI function name (letters, digits, `_ . -`, at most 64)."""
    return bool(_FUNCTION_NAME.fullmatch(name))


def normalize_tool_choice(choice: ToolChoice | None, names: list[str] | None) -> ToolChoice | None:
    """`choice` in OpenAI's wire form ("auto" | "required" | "none" | {"type": "function", ...}).

    `names` are the offered tools; a named function must be one of them, and "required" needs at least
    one. Raises ValueError naming the bad value.
    """
    if choice is None or choice in TOOL_CHOICE_MODES:
        if choice == "required" and not names:
            raise ValueError("tool_choice 'required' needs tools to call, but no tools were given")
        return choice
    if isinstance(choice, str):
        name = choice
    elif isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("function"), dict):
        name = choice["function"].get("name")
    else:
        raise ValueError(
            f"tool_choice must be 'auto', 'required', 'none', a function name or "
            f'{{"type": "function", "function": {{"name": ...}}}}, got {choice!r}'
        )
    if not isinstance(name, str) or not name:
        raise ValueError(f"tool_choice names no function: {choice!r}")
    if name not in (names or []):
        offered = ", ".join(names or []) or "none"
        raise ValueError(f"tool_choice names function {name!r}, which is not among the offered tools ({offered})")
    return {"type": "function", "function": {"name": name}}


def chosen_function(choice: ToolChoice | None) -> str | None:
    """The function a normalized tool_choice forces, or None for the modes."""
    return choice["function"]["name"] if isinstance(choice, dict) else None


@dataclass
class ToolConstraint:
    """What a model may write about tools, for backends that can enforce it with a grammar.

    `choice` follows OpenAI's tool_choice (normalized on creation); `format` is how calls are written:
    "tool_call" blocks (the text protocol and Qwen-style templates) or ReAct's Action / Action Input.
    """

    tools: list[ToolSchema]
    choice: ToolChoice = "auto"
    format: CallFormat = "tool_call"

    def __post_init__(self) -> None:
        if self.format not in CALL_FORMATS:
            raise ValueError(f"format must be one of {CALL_FORMATS}, got {self.format!r}")
        self.tools = list(self.tools or [])
        self.choice = normalize_tool_choice("auto" if self.choice is None else self.choice, tool_names(self.tools))

    @property
    def mode(self) -> str:
        """One of auto, required, none, or function (one named function)."""
        return "function" if isinstance(self.choice, dict) else str(self.choice)

    @property
    def allowed(self) -> list[str]:
        """Names the model may call: all tools, the named one, or none."""
        if self.mode == "none":
            return []
        name = chosen_function(self.choice)
        return [name] if name else tool_names(self.tools)


@dataclass
class ChatRequest:
    """One conversation to continue, for batched generation.

    `tools` are offered through the model's function calling and `tool_choice` (OpenAI semantics; None
    means auto) says what it may do with them. `constraint` is for formats where the tools live in the
    prompt instead (ReAct): a backend that can, enforces it; give it instead of `tools`.
    """

    messages: list[Message]
    tools: list[ToolSchema] | None = None
    tool_choice: ToolChoice | None = None
    constraint: ToolConstraint | None = None

    def __post_init__(self) -> None:
        if self.constraint is not None and (self.tools or self.tool_choice is not None):
            raise ValueError("ChatRequest: give tools (and tool_choice) or a constraint, not both")
        self.tool_choice = normalize_tool_choice(self.tool_choice, tool_names(self.tools))

    def tool_constraint(self) -> ToolConstraint | None:
        """The constraint on this turn: the explicit one, or the offered tools under tool_choice."""
        if self.constraint is not None:
            return self.constraint
        if self.tools:
            return ToolConstraint(self.tools, self.tool_choice or "auto", "tool_call")
        return None

    def chat_options(self) -> dict[str, Any]:
        """Keyword arguments for `ChatModel.chat`: tool_choice only when it is not the default (auto), so
        backends written before tool_choice existed keep working."""
        return {} if self.tool_choice in (None, "auto") else {"tool_choice": self.tool_choice}
