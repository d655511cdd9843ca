"""Which tools an episode may call, and the one place where the harness executes a call.

Tool-given setting: the case's tools are offered from the start. Tool-retrieval setting: only the
retrieval tools are offered at first; every tool name that a retrieval result mentions becomes callable.
Nothing the model writes is ever executed except through `Toolbox.execute`, which goes to the world.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Protocol

from tooltune.models.types import ToolSchema

Setting = Literal["given", "retrieval"]
SETTINGS: tuple[str, ...] = ("given", "retrieval")
RETRIEVAL_TOOLS: tuple[str, ...] = ("search_tools", "get_tool_doc")


class Environment(Protocol):
    """What the agent loop needs from a sandbox world (tooltune.sandbox.world.World satisfies it)."""

    def tool_schemas(self, names: list[str] | None = None) -> list[dict]: ...

    def call(self, name: str, arguments: dict | str) -> dict: ...


def schema_name(schema: ToolSchema) -> str:
    """The function name of an OpenAI tool schema."""
    return str(schema.get("function", {}).get("name", ""))


def error_response(kind: str, message: str) -> dict[str, Any]:
    """An error observation in the world's own format."""
    return {"error": {"type": kind, "message": message}}


def _strings_in(value: Any) -> list[str]:
    """All strings (keys and values) nested in a JSON value, in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        out: list[str] = []
        for key, item in value.items():
            out.append(str(key))
            out.extend(_strings_in(item))
        return out
    if isinstance(value, (list, tuple)):
        return [s for item in value for s in _strings_in(item)]
    return []


class Toolbox:
    """The tools offered to one episode, growing as retrieval finds more."""

    def __init__(self, env: Environment, setting: str, tool_names: list[str]) -> None:
        if setting not in SETTINGS:
            raise ValueError(f"setting must be one of {SETTINGS}, got {setting!r}")
        self.env = env
        self.setting = setting
        self._catalogue = {schema_name(s): s for s in env.tool_schemas(None)}
        first = list(RETRIEVAL_TOOLS) if setting == "retrieval" else list(tool_names)
        unknown = [n for n in first if n not in self._catalogue]
        if unknown:
            raise ValueError(f"tool_names: the world has no tool(s) {unknown}")
        self.offered: list[str] = first
        self.discovered: list[str] = []

    def schemas(self) -> list[ToolSchema]:
        """OpenAI schemas of the tools currently offered, in the order they became available."""
        return [self._catalogue[n] for n in self.offered]

    def refusal(self, name: Any, arguments: Any) -> dict[str, Any] | None:
        """The error observation for a call the harness will not pass to the world, else None."""
        if not isinstance(name, str) or not name:
            return error_response("invalid_call", "the tool call has no tool name")
        if not isinstance(arguments, (dict, str)):
            return error_response(
                "invalid_arguments", f"arguments of {name!r} must be a JSON object, got {type(arguments).__name__}"
            )
        if name in self.offered:
            return None
        if name in self._catalogue:
            hint = "use search_tools / get_tool_doc to find it first" if self.setting == "retrieval" else (
                f"the tools you may use are: {', '.join(self.offered)}")
            return error_response("tool_not_available", f"tool {name!r} is not available here; {hint}")
        return error_response("unknown_tool", f"there is no tool named {name!r}; available: {', '.join(self.offered)}")

    def execute(self, name: str, arguments: dict | str) -> tuple[dict[str, Any], bool]:
        """Run one call through the world unless refused; returns (response, whether the world ran it)."""
        refused = self.refusal(name, arguments)
        if refused is not None:
            return refused, False
        response = self.env.call(name, arguments)
        if name in RETRIEVAL_TOOLS and "result" in response:
            self._discover(response["result"])
        return response, True

    def _discover(self, result: Any) -> None:
        for text in _strings_in(result):
            for candidate in (text, text.strip()):
                if candidate in self._catalogue and candidate not in self.offered:
                    self.offered.append(candidate)
                    self.discovered.append(candidate)


def observation_text(response: dict[str, Any], limit: int) -> str:
    """The world's response as the JSON text the model reads, cut to `limit` characters."""
    text = json.dumps(response, ensure_ascii=False, default=str)
    if limit > 0 and len(text) > limit:
        text = text[:limit] + f"... [truncated {len(text) - limit} characters]"
    return text
