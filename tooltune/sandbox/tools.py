"""Tools as typed Python functions: their signature and docstring are the one source of their JSON schema.

A tool is a plain function `def name(ctx: ToolContext, arg: type, ...) -> result` decorated with
`@tool("app")`. Its Google-style docstring gives the description (text before `Args:`) and one line per
argument; `Annotated[int, Range(0, 100)]` / `Annotated[str, Pattern(...)]` add JSON Schema constraints.
Arguments are validated against the generated schema itself, so the model sees exactly what is enforced.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sqlite3
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, Literal

APP_NAMES = (
    "calendar",
    "email",
    "health",
    "music",
    "navigation",
    "shopping",
    "smart_home",
    "weather",
    "web",
)
RETRIEVAL_TOOL_NAMES = ("search_tools", "get_tool_doc")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Range:
    """Inclusive numeric bounds of an argument (JSON Schema minimum/maximum)."""

    minimum: float | None = None
    maximum: float | None = None


@dataclass(frozen=True)
class Pattern:
    """Regular expression a string argument must match (JSON Schema pattern)."""

    regex: str


DateTime = Annotated[str, Pattern(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}(:\d{2})?$")]
Date = Annotated[str, Pattern(r"^\d{4}-\d{2}-\d{2}$")]
DateOrTime = Annotated[str, Pattern(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$")]


class ToolError(Exception):
    """A tool refused a call (unknown id, impossible value...); the model sees `type` and `message`."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message


@dataclass
class ToolContext:
    """What a tool sees besides its arguments: the episode database, the clock, the tool catalogue."""

    db: sqlite3.Connection
    now: datetime
    catalog: Sequence[Tool] = ()
    ranker: Callable[[], Any] | None = None

    def user_info(self, key: str, default: str = "") -> str:
        row = self.db.execute("SELECT value FROM user_info WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default


@dataclass(frozen=True)
class Tool:
    """One callable tool of an app, with its OpenAI function schema."""

    name: str
    app: str
    function: Callable[..., Any] = field(repr=False)
    schema: dict = field(repr=False)

    @property
    def description(self) -> str:
        return self.schema["function"]["description"]

    @property
    def parameters(self) -> dict:
        return self.schema["function"]["parameters"]


def tool(app: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a function as a tool of `app`; the schema is built (and checked) right away."""
    if app not in APP_NAMES and app != "retrieval":
        raise ValueError(f"unknown app {app!r}; expected one of {APP_NAMES}")

    def mark(function: Callable[..., Any]) -> Callable[..., Any]:
        function.__tool_app__ = app  # type: ignore[attr-defined]
        function.__tool_schema__ = tool_schema(function)  # type: ignore[attr-defined]
        return function

    return mark


def parse_docstring(function: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """Split a Google-style docstring into (description, {argument: description})."""
    doc = inspect.getdoc(function) or ""
    head, _, args_block = doc.partition("\nArgs:\n")
    description = " ".join(head.split())
    arguments: dict[str, str] = {}
    current = None
    for line in args_block.splitlines():
        match = re.match(r"^\s{2,}(\w+):\s*(.*)$", line)
        if match and not line.startswith(" " * 8):
            current = match.group(1)
            arguments[current] = match.group(2).strip()
        elif current and line.strip():
            arguments[current] += " " + line.strip()
        elif not line.strip():
            current = None
    return description, arguments


def _type_schema(annotation: Any, where: str) -> dict:
    """JSON Schema of one Python annotation (str, int, float, bool, list[...], Literal, Annotated)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *extras = typing.get_args(annotation)
        schema = _type_schema(base, where)
        for extra in extras:
            if isinstance(extra, Range):
                if extra.minimum is not None:
                    schema["minimum"] = extra.minimum
                if extra.maximum is not None:
                    schema["maximum"] = extra.maximum
            elif isinstance(extra, Pattern):
                schema["pattern"] = extra.regex
        return schema
    if origin is Literal:
        values = list(typing.get_args(annotation))
        kinds = {type(v) for v in values}
        if len(kinds) != 1:
            raise TypeError(f"{where}: Literal values must share one type")
        return {**_type_schema(kinds.pop(), where), "enum": values}
    if origin in (list, Sequence) or annotation is list:
        (item,) = typing.get_args(annotation) or (str,)
        return {"type": "array", "items": _type_schema(item, where)}
    simple = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation in simple:
        return {"type": simple[annotation]}
    raise TypeError(f"{where}: unsupported annotation {annotation!r}")


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    """`X | None` -> (X, True); anything else -> (annotation, False)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def tool_schema(function: Callable[..., Any]) -> dict:
    """The OpenAI function schema of `function`, from its signature and docstring."""
    name = function.__name__
    description, arg_docs = parse_docstring(function)
    if not description:
        raise TypeError(f"tool {name}: docstring with a description is required")
    hints = typing.get_type_hints(function, include_extras=True)
    params = list(inspect.signature(function).parameters.values())
    if not params or params[0].name != "ctx":
        raise TypeError(f"tool {name}: first parameter must be `ctx: ToolContext`")
    properties: dict[str, dict] = {}
    required: list[str] = []
    for param in params[1:]:
        where = f"tool {name}, argument {param.name}"
        if param.name not in hints:
            raise TypeError(f"{where}: type annotation is required")
        if param.name not in arg_docs:
            raise TypeError(f"{where}: missing from the docstring's Args section")
        annotation, optional = _strip_optional(hints[param.name])
        schema = _type_schema(annotation, where)
        schema["description"] = arg_docs[param.name]
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
        elif param.default is not None:
            schema["default"] = param.default
        elif not optional:
            raise TypeError(f"{where}: default None needs an `X | None` annotation")
        properties[param.name] = schema
    unknown = set(arg_docs) - set(properties)
    if unknown:
        raise TypeError(f"tool {name}: docstring documents unknown arguments {sorted(unknown)}")
    parameters: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        parameters["required"] = required
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def tools_of_module(module: types.ModuleType) -> list[Tool]:
    """Every `@tool` function defined in `module`, in definition order."""
    found = []
    for value in vars(module).values():
        if callable(value) and hasattr(value, "__tool_schema__") and value.__module__ == module.__name__:
            found.append(Tool(value.__name__, value.__tool_app__, value, value.__tool_schema__))
    return found


_ALL_TOOLS: list[Tool] | None = None


def all_tools() -> list[Tool]:
    """The functional tools of the 9 apps (retrieval tools excluded), app by app."""
    global _ALL_TOOLS
    if _ALL_TOOLS is None:
        collected: list[Tool] = []
        for app in APP_NAMES:
            collected.extend(tools_of_module(importlib.import_module(f"tooltune.sandbox.apps.{app}")))
        names = [t.name for t in collected]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise RuntimeError(f"duplicate tool names: {sorted(duplicates)}")
        _ALL_TOOLS = collected
    return list(_ALL_TOOLS)


def parse_time(value: str, argument: str) -> datetime:
    """Parse 'YYYY-MM-DD HH:MM[:SS]' or 'YYYY-MM-DD', or raise a ToolError naming the argument."""
    for fmt in (TIME_FORMAT, "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    raise ToolError("invalid_arguments", f"argument '{argument}': {value!r} is not a valid date/time "
                    "(expected YYYY-MM-DD HH:MM:SS)")


def format_time(value: datetime) -> str:
    return value.strftime(TIME_FORMAT)


def rows(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    """Rows of a cursor as plain dicts (JSON-ready observations)."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def first_row(ctx: ToolContext, sql: str, params: tuple[Any, ...], missing: str) -> dict[str, Any]:
    """The first row of a query, or a `not_found` ToolError saying what is `missing`."""
    found = rows(ctx.db.execute(sql, params))
    if not found:
        raise ToolError("not_found", missing)
    return found[0]


def require_row(ctx: ToolContext, table: str, key: str, value: Any, what: str) -> dict[str, Any]:
    """Fetch one row by key or raise a `not_found` ToolError the model can act on."""
    return first_row(ctx, f"SELECT * FROM {table} WHERE {key} = ?", (value,), f"no {what} with {key} {value!r}")
