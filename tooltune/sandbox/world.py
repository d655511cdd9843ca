"""One episode's world: a pristine in-memory copy of a user's database, the clock, and the tools.

`World.call` never raises for a model's mistake: unknown tools, non-JSON, wrong-typed, missing or
out-of-range arguments and refused operations come back as `{"error": {"type", "message"}}`, and the
call runs inside a SAVEPOINT so a refused call leaves the state exactly as it was.
"""

from __future__ import annotations

import difflib
import inspect
import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from tooltune.sandbox.state import USER_TABLES, Snapshot, copy_database, diff_snapshots, snapshot
from tooltune.sandbox.retrieval import default_ranker, retrieval_tools
from tooltune.sandbox.tools import Tool, ToolContext, ToolError, all_tools, parse_time

_VALIDATORS: dict[int, Draft202012Validator] = {}
_OPTIONAL_NONE: dict[int, frozenset[str]] = {}


def _validator(tool: Tool) -> Draft202012Validator:
    key = id(tool.function)
    if key not in _VALIDATORS:
        _VALIDATORS[key] = Draft202012Validator(tool.parameters)
        params = inspect.signature(tool.function).parameters.values()
        _OPTIONAL_NONE[key] = frozenset(p.name for p in params if p.default is None)
    return _VALIDATORS[key]


def _describe(error: ValidationError) -> str:
    """A short message naming the offending argument."""
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return f"missing required argument '{missing}'"
    if error.validator == "additionalProperties":
        return f"unexpected argument(s): {error.message.split('(')[-1].rstrip(')')}"
    where = ".".join(str(p) for p in error.absolute_path) or "arguments"
    return f"argument '{where}': {error.message}"


def error_response(type_: str, message: str) -> dict[str, Any]:
    return {"error": {"type": type_, "message": message}}


class World:
    """A sandbox episode; use as a context manager or call `close()`."""

    def __init__(
        self,
        template: sqlite3.Connection,
        now: datetime | str,
        *,
        tools: Sequence[Tool] | None = None,
        start: Snapshot | None = None,
        ranker: Callable[[], Any] | None = None,
    ) -> None:
        self.now = parse_time(now, "now") if isinstance(now, str) else now
        functional = list(tools) if tools is not None else all_tools()
        self.tools: dict[str, Tool] = {t.name: t for t in functional + retrieval_tools()}
        self.db = copy_database(template)
        self._start = start if start is not None else snapshot(self.db)
        self._changes_at_start = self.db.total_changes  # rows written on this connection so far
        self.ctx = ToolContext(db=self.db, now=self.now, catalog=functional,
                               ranker=ranker if ranker is not None else default_ranker)
        self.calls: list[tuple[str, dict, dict]] = []

    def tool_schemas(self, names: Sequence[str] | None = None) -> list[dict]:
        """OpenAI tool schemas of the named tools (all tools, retrieval ones included, when None)."""
        if names is None:
            return [t.schema for t in self.tools.values()]
        unknown = [n for n in names if n not in self.tools]
        if unknown:
            raise KeyError(f"unknown tool names: {unknown}")
        return [self.tools[n].schema for n in names]

    def call(self, name: str, arguments: dict | str | None = None) -> dict[str, Any]:
        """Run one tool call; returns {"result": ...} or {"error": {...}} and logs it in `calls`."""
        logged: Any = arguments if arguments is not None else {}
        response = self._run(name, arguments)
        self.calls.append((name, logged if isinstance(logged, dict) else {"_raw": logged}, response))
        return response

    def _run(self, name: str, arguments: dict | str | None) -> dict[str, Any]:
        tool = self.tools.get(name) if isinstance(name, str) else None
        if tool is None:
            close = difflib.get_close_matches(str(name), list(self.tools), n=3)
            hint = f"; did you mean {close}?" if close else ""
            return error_response("unknown_tool", f"no tool named {name!r}{hint}")
        if arguments is None or arguments == "":
            arguments = {}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError as error:
                return error_response("invalid_json", f"arguments are not valid JSON: {error}")
            if arguments is None:  # "null" for a call without arguments
                arguments = {}
        if not isinstance(arguments, dict):
            return error_response("invalid_arguments", "arguments must be a JSON object")
        validator = _validator(tool)
        optional_none = _OPTIONAL_NONE[id(tool.function)]
        arguments = {k: v for k, v in arguments.items() if not (v is None and k in optional_none)}
        if not validator.is_valid(arguments):
            return error_response("invalid_arguments", _describe(best_match(validator.iter_errors(arguments))))
        arguments = self._coerce(tool, arguments)
        self.db.execute("SAVEPOINT tool_call")
        try:
            result = tool.function(self.ctx, **arguments)
        except ToolError as refused:
            self.db.execute("ROLLBACK TO tool_call")
            self.db.execute("RELEASE tool_call")
            return error_response(refused.type, refused.message)
        except BaseException:
            self.db.execute("ROLLBACK TO tool_call")
            self.db.execute("RELEASE tool_call")
            raise
        self.db.execute("RELEASE tool_call")
        return {"result": result}

    @staticmethod
    def _coerce(tool: Tool, arguments: dict) -> dict:
        """JSON Schema accepts 3.0 as an integer; hand the function a real int."""
        props = tool.parameters["properties"]
        return {
            k: int(v) if props[k].get("type") == "integer" and isinstance(v, float) else v
            for k, v in arguments.items()
        }

    def diff(self, tables: Sequence[str] | None = None) -> dict[str, dict[str, list]]:
        """Rows inserted/deleted/updated per user table (only `tables`, when given) since the episode started."""
        if self.db.total_changes == self._changes_at_start:  # nothing written: no snapshot to compare
            return {}
        if tables is None:
            return diff_snapshots(self._start, snapshot(self.db, USER_TABLES))
        return diff_snapshots({t: self._start.get(t, {}) for t in tables}, snapshot(self.db, tables))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Read-only helper for checks and tests: rows of a SELECT as dicts."""
        cursor = self.db.execute(sql, params)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
