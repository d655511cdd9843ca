"""The tool-call parser on a generated corpus of valid and malformed model outputs (never raises)."""

from __future__ import annotations

import json

import pytest

from tooltune.models.toolcall_parser import parse_tool_calls

TOOLS = ["get_weather", "play_music", "send_email", "search_tools"]

ARGUMENTS = [
    {},
    {"city": "Paris"},
    {"query": 'say "hi" to {bob} and [alice]'},
    {"text": "unicode: é ü 中文 🎵 \u2028 done", "n": 3, "flag": True, "none": None},
    {"nested": {"list": [1, {"deep": "}]"}], "path": "C:\\temp\\x"}},
    {"code": "def f():\n    return '{'\n"},
]


def tagged(name: str, args: dict) -> str:
    return f"<tool_call>\n{json.dumps({'name': name, 'arguments': args}, ensure_ascii=False)}\n</tool_call>"


def bare(name: str, args: dict) -> str:
    return json.dumps({"name": name, "arguments": args})


def react(name: str, args: dict) -> str:
    return f"Thought: I should use {name}.\nAction: {name}\nAction Input: {json.dumps(args, ensure_ascii=False)}"


def openai_style(name: str, args: dict) -> str:
    return json.dumps([{"id": "c1", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}])


def params_variant(name: str, args: dict) -> str:
    return "Calling now: " + json.dumps({"tool": name, "parameters": args})


def fenced(name: str, args: dict) -> str:
    return "```json\n" + bare(name, args) + "\n```"


FORMATS = [tagged, bare, react, openai_style, params_variant, fenced]
VALID = [(fmt, name, args) for fmt in FORMATS for name in TOOLS[:2] for args in ARGUMENTS]


@pytest.mark.parametrize("fmt,name,args", VALID, ids=[f"{f.__name__}-{n}-{i % 6}" for i, (f, n, _) in enumerate(VALID)])
def test_valid_calls_round_trip(fmt, name, args):
    result = parse_tool_calls(fmt(name, args), TOOLS)
    assert result.errors == []
    assert [(c.name, c.arguments) for c in result.tool_calls] == [(name, args)]


def _truncations() -> list[tuple[str, str]]:
    cases = []
    for fmt in (bare, tagged):
        full = fmt("get_weather", {"city": "Pa\"ris", "days": [1, 2]})
        cut_from = full.index('"name"') + len('"name":')
        for cut in range(cut_from, len(full)):
            cases.append((fmt.__name__, full[:cut]))
    return cases


TRUNCATED = _truncations()


@pytest.mark.parametrize("fmt,text", TRUNCATED)
def test_truncated_calls_are_errors_not_calls(fmt, text):
    result = parse_tool_calls(text, TOOLS)
    if fmt == "tagged" and text.rstrip().endswith("}}") and not text.endswith("</tool_call"):
        # The JSON is complete and only the close tag is missing: models stopped by a stop word do this.
        assert [c.name for c in result.tool_calls] == ["get_weather"]
        return
    assert result.tool_calls == []
    assert len(result.errors) == 1, result
    assert "truncated" in result.errors[0] or "invalid JSON" in result.errors[0]


def test_truncation_corpus_is_large():
    assert len(TRUNCATED) + len(VALID) + len(WRONG) + len(FREE_TEXT) >= 200


WRONG = [
    ('{"name": "get_weather", "arguments": [1, 2]}', "must be a JSON object, got array"),
    ('{"name": "get_weather", "arguments": "Paris"}', "not valid JSON"),
    ('{"name": "get_weather", "arguments": "[1]"}', "got array"),
    ('{"name": "get_weather", "arguments": 42}', "got number"),
    ('{"name": "get_weather", "arguments": true}', "got boolean"),
    ('<tool_call>{"name": 7, "arguments": {}}</tool_call>', "non-empty string, got number"),
    ('<tool_call>{"name": null}</tool_call>', "non-empty string, got null"),
    ('<tool_call>{"name": "  "}</tool_call>', "non-empty string"),
    ('<tool_call>{"arguments": {"city": "Paris"}}</tool_call>', 'missing "name"'),
    ("<tool_call>[]</tool_call>", "empty list"),
    ('<tool_call>"get_weather"</tool_call>', "got string"),
    ("<tool_call></tool_call>", "empty block"),
    ("<tool_call>{'name': 'get_weather', 'arguments': {}}</tool_call>", "invalid JSON"),
    ('<tool_call>{"name": "get_weather", "arguments": {},}</tool_call>', "invalid JSON"),
    ('{"name": "delete_everything", "arguments": {}}', "unknown tool 'delete_everything'"),
    ('<tool_call>{"name": "getWeather", "arguments": {}}</tool_call>', "available tools: get_weather"),
    ("Action: get_weather\nAction Input: Paris", "must be a JSON object"),
    ("Action: get_weather\nThought: hmm", "missing the 'Action Input:'"),
    ('Action: get_weather\nAction Input: {"city": "Par', "truncated"),
    ('Action: get_weather\nAction Input: {"city": Paris}', "invalid JSON"),
    ('Action: {"name": "get_weather", "arguments": 3}', "got number"),
    ('[{"name": "get_weather", "arguments": {}}, {"name": 3}]', "#2"),
    ('{"type": "function", "function": {"name": "get_weather", "arguments": "{bad"}}', "not valid JSON"),
]


@pytest.mark.parametrize("text,expected", WRONG)
def test_malformed_calls_give_readable_errors(text, expected):
    result = parse_tool_calls(text, TOOLS)
    assert any(expected in error for error in result.errors), result.errors


def test_one_bad_call_does_not_hide_the_good_one():
    text = '[{"name": "get_weather", "arguments": {}}, {"name": "play_music", "arguments": [1]}]'
    result = parse_tool_calls(text, TOOLS)
    assert [c.name for c in result.tool_calls] == ["get_weather"]
    assert len(result.errors) == 1 and "play_music" in result.errors[0]


FREE_TEXT = [
    "The capital of France is Paris.",
    "",
    "Use braces like {this} or [that] freely.",
    'She said "hello" and left {',
    'The record is {"name": "Alice", "age": 31}.',
    "[1, 2, 3] are numbers",
    "Action items: buy milk",
    "<tool_call",
    "}}}]]] stray closers",
    "emoji 🎵 and unicode é",
]


@pytest.mark.parametrize("text", FREE_TEXT)
def test_free_text_is_content_without_calls_or_errors(text):
    result = parse_tool_calls(text, TOOLS)
    assert result.tool_calls == [] and result.errors == []
    assert result.content == (text.strip() or None)


def test_content_keeps_the_prose_around_calls():
    result = parse_tool_calls("Let me check. " + bare("get_weather", {"city": "Oslo"}) + " One moment.")
    assert result.content == "Let me check.  One moment."
    result = parse_tool_calls("Thought: look it up\n" + tagged("get_weather", {}))
    assert result.content == "Thought: look it up"


def test_several_tagged_calls_and_missing_close_tag():
    text = tagged("get_weather", {"city": "A"}) + "\n<tool_call>" + bare("play_music", {"song": "B"})
    result = parse_tool_calls(text, TOOLS)
    assert [(c.name, c.arguments) for c in result.tool_calls] == [
        ("get_weather", {"city": "A"}),
        ("play_music", {"song": "B"}),
    ]


def test_ids_are_unique_and_deterministic():
    text = bare("get_weather", {}) + " " + bare("get_weather", {})
    first, second = parse_tool_calls(text), parse_tool_calls(text)
    assert len({c.id for c in first.tool_calls}) == 2
    assert [c.id for c in first.tool_calls] == [c.id for c in second.tool_calls]
    assert parse_tool_calls(openai_style("get_weather", {})).tool_calls[0].id == "c1"


def test_without_a_tool_list_any_name_is_accepted():
    assert parse_tool_calls(bare("anything", {})).tool_calls[0].name == "anything"


@pytest.mark.parametrize("fmt", [bare, tagged, react])
def test_ten_megabyte_arguments(fmt):
    payload = ('x{[\\"' * 200_000) + ("é" * 4_000_000) + ('"}' * 500_000)
    text = fmt("send_email", {"body": payload})
    assert len(text.encode("utf-8")) > 10_000_000
    result = parse_tool_calls(text, TOOLS)
    assert result.errors == []
    assert result.tool_calls[0].arguments["body"] == payload
    truncated = parse_tool_calls(text[: len(text) // 2], TOOLS)
    assert truncated.tool_calls == [] and len(truncated.errors) == 1
    assert len(truncated.errors[0]) < 400


def test_many_unclosed_braces_stay_linear():
    result = parse_tool_calls("{" * 1_000_000 + '{"name": "get_weather"', TOOLS)
    assert result.tool_calls == [] and "truncated" in result.errors[0]


def test_random_mutations_never_raise():
    import random

    rng = random.Random(1234)
    seeds = [fmt(name, args) for fmt, name, args in VALID] + [w for w, _ in WRONG] + FREE_TEXT
    alphabet = '{}[]":,\\ \n<>/_tool_callActionInput: é🎵'
    for _ in range(600):
        text = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            position = rng.randint(0, len(text))
            action = rng.random()
            if action < 0.4:
                text.insert(position, rng.choice(alphabet))
            elif action < 0.8 and text:
                del text[min(position, len(text) - 1)]
            else:
                text = text[:position]
        result = parse_tool_calls("".join(text), TOOLS)
        assert all(isinstance(error, str) and error for error in result.errors)
        assert all(call.name in TOOLS and isinstance(call.arguments, dict) for call in result.tool_calls)
