"""Find tool calls in free model text: bare JSON, `<tool_call>` blocks (Hermes/Qwen) and ReAct lines.

Models without native function calling write their calls as text. This parser turns that text into
structured `ToolCall`s and never raises: anything malformed becomes a readable error string that the
agent loop can show the model as an observation. Scanning is linear (regex jumps with possessive
quantifiers, no backtracking), so a 10 MB argument parses in well under a second.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from tooltune.models.types import ToolCall

TOOL_CALL_OPEN = "<tool_call>"
TOOL_CALL_CLOSE = "</tool_call>"

NAME_KEYS = ("name", "tool", "tool_name")
ARGUMENT_KEYS = ("arguments", "parameters", "args", "input", "tool_input", "action_input")
_EXTRA_KEYS = {"id", "type"}
_CALL_KEYS = set(NAME_KEYS) | set(ARGUMENT_KEYS) | _EXTRA_KEYS

_STRUCTURAL = re.compile(r'[{}\[\]"]')
_STRING_BODY = re.compile(r'(?:[^"\\]++|\\.)*+', re.S)
_CALL_LIKE_START = re.compile(r'[\[{]\s*\{?\s*"(?:name|tool|tool_name|function|tool_calls)"\s*:')
_EMPTY_FENCE = re.compile(r"```[a-zA-Z]*\s*```")
_REACT_STOP = ("observation:", "thought:", "action:", "final answer:")
_SNIPPET = 80


class ParsedToolCalls(NamedTuple):
    """What the parser found: remaining text (None when nothing is left), calls, readable errors."""

    content: str | None
    tool_calls: list[ToolCall]
    errors: list[str]


def parse_tool_calls(text: str | None, tool_names: Iterable[str] | None = None, *,
                     tagged_only: bool = False) -> ParsedToolCalls:
    """Extract tool calls from `text`; if `tool_names` is given, calls to other names are errors.

    `tagged_only`: only `<tool_call>` blocks are calls (the text was generated under a grammar that allows
    calls only there), so JSON or Action lines in free text stay text."""
    if not text:
        return ParsedToolCalls(None, [], [])
    known = set(tool_names) if tool_names is not None else None
    raw_calls: list[RawCall] = []
    errors: list[str] = []
    if TOOL_CALL_OPEN in text:
        content = _parse_tagged(text, raw_calls, errors)
    elif tagged_only:
        content = text
    elif _react_action_lines(text):
        content = _parse_react(text, raw_calls, errors)
    else:
        content = _parse_bare_json(text, raw_calls, errors)
    calls = finalize_calls(raw_calls, known, errors, text)
    content = _EMPTY_FENCE.sub("", content).strip()
    return ParsedToolCalls(content or None, calls, errors)


class RawCall(NamedTuple):
    """A call as found in the text, before it gets an id and its name is checked."""

    name: str
    arguments: dict[str, Any]
    id: str | None


def _snippet(text: str) -> str:
    text = text.strip()
    return repr(text if len(text) <= _SNIPPET else text[:_SNIPPET] + "...")


def finalize_calls(raw: list[RawCall], known: set[str] | None, errors: list[str], text: str) -> list[ToolCall]:
    """ToolCalls with ids (deterministic, from `text`); calls to names outside `known` become errors."""
    digest = hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()[:8]
    calls: list[ToolCall] = []
    for index, call in enumerate(raw):
        if known is not None and call.name not in known:
            listing = ", ".join(sorted(known)) or "(none)"
            errors.append(f"unknown tool {call.name!r}; available tools: {listing}")
            continue
        calls.append(ToolCall(id=call.id or f"call_{digest}_{index}", name=call.name, arguments=call.arguments))
    return calls


# ---------------------------------------------------------------- JSON value -> calls


def looks_like_call(value: Any) -> bool:
    """True for a dict shaped like a tool call (a name key and only call keys), or a list of them."""
    if isinstance(value, list):
        return bool(value) and any(looks_like_call(item) for item in value)
    if not isinstance(value, dict):
        return False
    if isinstance(value.get("tool_calls"), list):
        return True
    if isinstance(value.get("function"), dict):
        return set(value) <= _CALL_KEYS | {"function"}
    return any(key in value for key in NAME_KEYS) and set(value) <= _CALL_KEYS


def calls_from_json(value: Any, out: list[RawCall], errors: list[str], where: str = "tool call") -> None:
    """Append the calls in a decoded JSON value to `out`; describe each malformed one in `errors`."""
    if isinstance(value, list):
        if not value:
            errors.append(f"{where}: empty list, expected one or more {{\"name\": ..., \"arguments\": {{...}}}}")
        for position, item in enumerate(value):
            calls_from_json(item, out, errors, f"{where} #{position + 1}")
        return
    if not isinstance(value, dict):
        errors.append(
            f"{where}: expected a JSON object {{\"name\": ..., \"arguments\": {{...}}}}, "
            f"got {_json_type(value)}"
        )
        return
    if isinstance(value.get("tool_calls"), list):
        calls_from_json(value["tool_calls"], out, errors, where)
        return
    body = value["function"] if isinstance(value.get("function"), dict) else value
    name_key = next((key for key in NAME_KEYS if key in body), None)
    if name_key is None:
        errors.append(f"{where}: missing \"name\" (keys present: {', '.join(map(str, body)) or 'none'})")
        return
    name = body[name_key]
    if not isinstance(name, str) or not name.strip():
        errors.append(f"{where}: \"name\" must be a non-empty string, got {_json_type(name)}")
        return
    arguments = _decode_arguments(next((body[key] for key in ARGUMENT_KEYS if key in body), None))
    if isinstance(arguments, str):
        errors.append(f"{where} to {name!r}: {arguments}")
        return
    call_id = value.get("id")
    out.append(RawCall(name.strip(), arguments, call_id if isinstance(call_id, str) and call_id else None))


def _decode_arguments(arguments: Any) -> dict[str, Any] | str:
    """The arguments as a dict, or an error message; OpenAI sends them as a JSON-encoded string."""
    if arguments is None:
        return {}
    if isinstance(arguments, str):
        if not arguments.strip():
            return {}
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError as exc:
            return f"\"arguments\" is a string that is not valid JSON ({exc.msg} at char {exc.pos})"
    if not isinstance(arguments, dict):
        return f"\"arguments\" must be a JSON object, got {_json_type(arguments)}"
    return arguments


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _decode(text: str, errors: list[str], where: str) -> tuple[bool, Any]:
    """json.loads with a readable error; a failure at the very end is reported as truncation."""
    stripped = text.strip()
    try:
        return True, json.loads(stripped)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(stripped) or "Unterminated string" in exc.msg:
            errors.append(f"{where}: truncated JSON, the text ends before the call is complete: {_snippet(stripped)}")
        else:
            errors.append(f"{where}: invalid JSON ({exc.msg} at char {exc.pos}): {_snippet(stripped)}")
        return False, None


# ---------------------------------------------------------------- the three text formats


def _parse_tagged(text: str, out: list[RawCall], errors: list[str]) -> str:
    """`<tool_call>{...}</tool_call>` blocks; a missing close tag at the end of the text is tolerated."""
    kept: list[str] = []
    pos = 0
    while (start := text.find(TOOL_CALL_OPEN, pos)) >= 0:
        kept.append(text[pos:start])
        body_start = start + len(TOOL_CALL_OPEN)
        end = text.find(TOOL_CALL_CLOSE, body_start)
        next_open = text.find(TOOL_CALL_OPEN, body_start)
        if end < 0 or 0 <= next_open < end:
            end = next_open if next_open >= 0 else len(text)
            pos = end
        else:
            pos = end + len(TOOL_CALL_CLOSE)
        body = text[body_start:end]
        where = f"<tool_call> #{len(out) + 1}"
        if not body.strip():
            errors.append(f"{where}: empty block, expected {{\"name\": ..., \"arguments\": {{...}}}}")
            continue
        ok, value = _decode(_unfence(body), errors, where)
        if ok:
            calls_from_json(value, out, errors, where)
    kept.append(text[pos:].replace(TOOL_CALL_CLOSE, ""))
    return "".join(kept)


def _unfence(body: str) -> str:
    """Drop a ```json fence some models put inside a tagged block."""
    stripped = body.strip()
    if stripped.startswith("```") and stripped.endswith("```") and len(stripped) >= 6:
        stripped = stripped[3:-3]
        newline = stripped.find("\n")
        if newline >= 0 and stripped[:newline].strip().isalpha():
            stripped = stripped[newline + 1 :]
    return stripped


def _react_action_lines(text: str) -> list[int]:
    """Indexes of lines starting with `Action:` (case-insensitive, after optional spaces)."""
    return [i for i, line in enumerate(text.split("\n")) if line.lstrip().lower().startswith("action:")]


def _parse_react(text: str, out: list[RawCall], errors: list[str]) -> str:
    """ReAct: `Action: tool_name` then `Action Input: {json}` (up to the next Observation/Thought/Action)."""
    lines = text.split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.lstrip().lower().startswith("action:"):
            kept.append(line)
            i += 1
            continue
        action = line.lstrip()[len("action:") :].strip()
        where = f"Action {action[:40]!r}"
        i += 1
        if action.startswith("{") or action.startswith("["):
            ok, value = _decode(action, errors, where)
            if ok:
                calls_from_json(value, out, errors, where)
            continue
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i >= len(lines) or not lines[i].lstrip().lower().startswith("action input:"):
            errors.append(f"{where}: missing the 'Action Input:' line with a JSON object of arguments")
            continue
        first = lines[i].lstrip()[len("action input:") :]
        body = [first]
        i += 1
        while i < len(lines) and not lines[i].lstrip().lower().startswith(_REACT_STOP):
            body.append(lines[i])
            i += 1
        name = action.strip("`*[]() ")
        if not name:
            errors.append("Action: empty tool name")
            continue
        raw_input = _unfence("\n".join(body)).strip()
        if not raw_input.startswith("{"):
            errors.append(f"{where}: Action Input must be a JSON object of arguments, got {_snippet(raw_input)}")
            continue
        ok, value = _decode(raw_input, errors, where)
        if ok:
            calls_from_json({"name": name, "arguments": value}, out, errors, where)
    return "\n".join(kept)


def _parse_bare_json(text: str, out: list[RawCall], errors: list[str]) -> str:
    """JSON objects/arrays anywhere in prose or code fences; only call-shaped ones count."""
    spans, unclosed = _bracket_spans(text)
    truncated = next((index for index in unclosed if _CALL_LIKE_START.match(text, index)), len(text))
    kept: list[str] = []
    pos = 0
    for start, end in spans:
        if start >= truncated:
            break
        ok, value = _try_json(text[start:end])
        if ok and looks_like_call(value):
            calls_from_json(value, out, errors, f"tool call #{len(out) + 1}")
        elif not ok and _CALL_LIKE_START.match(text, start):
            _decode(text[start:end], errors, f"tool call #{len(out) + 1}")
        else:
            continue
        kept.append(text[pos:start])
        pos = end
    kept.append(text[pos:truncated])
    if truncated < len(text):
        errors.append(
            f"tool call #{len(out) + 1}: truncated JSON, the text ends before the call is complete: "
            f"{_snippet(text[truncated:])}"
        )
    return "".join(kept)


def _try_json(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text)
    except json.JSONDecodeError:
        return False, None


def _bracket_spans(text: str) -> tuple[list[tuple[int, int]], list[int]]:
    """Outermost balanced {...}/[...] spans (JSON strings respected) and the openers never closed.

    One left-to-right pass: a stack of openers, strings skipped by one possessive regex match.
    """
    stack: list[tuple[str, int]] = []
    pairs: list[tuple[int, int]] = []
    pos = 0
    while (match := _STRUCTURAL.search(text, pos)) is not None:
        char, index = match.group(), match.start()
        pos = index + 1
        if char == '"':
            if stack:
                pos = _STRING_BODY.match(text, index + 1).end() + 1
            continue
        if char in "{[":
            stack.append((char, index))
            continue
        opener = "{" if char == "}" else "["
        depth = len(stack) - 1
        while depth >= 0 and stack[depth][0] != opener:
            depth -= 1
        if depth >= 0:
            pairs.append((stack[depth][1], index + 1))
            del stack[depth:]
    outermost: list[tuple[int, int]] = []
    for start, end in sorted(pairs, key=lambda pair: (pair[0], -pair[1])):
        if not outermost or start >= outermost[-1][1]:
            outermost.append((start, end))
    return outermost, [index for _, index in stack]
