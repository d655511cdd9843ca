"""The prompted tool protocol: tools in the system prompt, calls and results as plain turns."""

from __future__ import annotations

import json

from tooltune.models.text_protocol import call_as_text, render_text_protocol, tool_names, tools_prompt
from tooltune.models.toolcall_parser import parse_tool_calls

TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}},
    {"type": "function", "function": {"name": "play_music", "description": "Play", "parameters": {"type": "object", "properties": {}}}},
]
HISTORY = [
    {"role": "system", "content": "You are Ann's assistant."},
    {"role": "user", "content": "Weather in Oslo and Rome, then music."},
    {"role": "assistant", "content": "Checking.", "tool_calls": [
        {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
        {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
    ]},
    {"role": "tool", "tool_call_id": "c1", "content": "rain"},
    {"role": "tool", "tool_call_id": "c2", "content": "sun"},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "c3", "function": {"name": "play_music", "arguments": ""}}]},
    {"role": "tool", "tool_call_id": "c3", "name": "play_music", "content": [{"type": "text", "text": "playing"}]},
]


def test_rendered_conversation_has_only_plain_roles_and_text():
    rendered = render_text_protocol(HISTORY, TOOLS)
    assert [m["role"] for m in rendered] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert all(isinstance(m["content"], str) and set(m) == {"role", "content"} for m in rendered)
    system = rendered[0]["content"]
    assert system.startswith("You are Ann's assistant.") and "<tools>" in system and '"name": "play_music"' in system
    results = rendered[3]["content"]
    assert results.count("<tool_response") == 2  # consecutive results merged into one user turn
    assert '<tool_response name="get_weather">\nrain\n</tool_response>' in results
    assert '<tool_response name="play_music">\nplaying\n</tool_response>' == rendered[5]["content"]


def test_rendered_calls_parse_back_to_the_same_calls():
    rendered = render_text_protocol(HISTORY, TOOLS)
    parsed = parse_tool_calls(rendered[2]["content"], tool_names(TOOLS))
    assert parsed.content == "Checking." and parsed.errors == []
    assert [(c.name, c.arguments) for c in parsed.tool_calls] == [("get_weather", {"city": "Oslo"}), ("get_weather", {"city": "Rome"})]
    assert parse_tool_calls(call_as_text({"function": {"name": "play_music", "arguments": ""}})).tool_calls[0].arguments == {}


def test_without_tools_nothing_is_added_and_a_system_prompt_is_created_when_needed():
    plain = [{"role": "user", "content": "hi"}]
    assert render_text_protocol(plain, None) == plain
    with_tools = render_text_protocol(plain, TOOLS)
    assert with_tools[0]["role"] == "system" and with_tools[0]["content"] == tools_prompt(TOOLS)


def test_tools_prompt_lists_each_schema_as_json():
    lines = tools_prompt(TOOLS).split("<tools>\n")[1].split("\n</tools>")[0].splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["get_weather", "play_music"]
    assert tool_names(TOOLS + [{"type": "function"}, "junk"]) == ["get_weather", "play_music"]
