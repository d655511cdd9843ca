"""Each strategy on a scripted model: tool calls, malformed calls, the retrieval setting, max turns."""

from __future__ import annotations

import json

import pytest

from tests.bench.fakes import FakeWorld
from tooltune.bench.episode import EpisodeKey
from tooltune.bench.runner import run_episode
from tooltune.bench.strategies import get_strategy, parse_react
from tooltune.bench.toolbox import Toolbox
from tooltune.models.scripted import ScriptedModel
from tooltune.models.types import AssistantMessage, ToolCall

OPENING = [{"role": "system", "content": "You help Maya."}, {"role": "user", "content": "Play some music I like."}]
GIVEN = ["play_music", "get_music_list_in_favorites"]


def start(name: str, setting: str = "given", max_turns: int = 20):
    world = FakeWorld()
    strategy = get_strategy(name)
    state = strategy.begin(EpisodeKey("c1", name, setting, 0), OPENING, Toolbox(world, setting, GIVEN), max_turns)
    return world, strategy, state


def call(name: str, **arguments) -> AssistantMessage:
    return AssistantMessage(tool_calls=[ToolCall(id="x", name=name, arguments=arguments)])


def test_fc_executes_calls_and_ends_on_plain_answer() -> None:
    world, strategy, state = start("fc")
    model = ScriptedModel([call("get_music_list_in_favorites"), call("play_music", music_name="Clair de Lune",
                                                                     volume_level=35),
                           AssistantMessage(content="Playing Clair de Lune at 35.")])
    run_episode(model, strategy, state)
    assert state.finish_reason == "answer" and state.turn == 3
    assert [c[0] for c in world.calls] == ["get_music_list_in_favorites", "play_music"]
    roles = [m["role"] for m in state.trajectory]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "tool", "assistant"]
    tool_msg = state.trajectory[5]
    assert tool_msg["tool_call_id"] == state.trajectory[4]["tool_calls"][0]["id"]
    assert json.loads(tool_msg["content"]) == {"result": "playing"}
    # the model saw the tools offered in the given setting
    assert {t["function"]["name"] for t in model.calls and strategy.request(state).tools} == set(GIVEN)


def test_fc_malformed_and_unknown_calls_become_error_observations() -> None:
    world, strategy, state = start("fc")
    model = ScriptedModel([
        AssistantMessage(raw_text='<tool_call>{"name": play_music', parse_errors=["invalid JSON in tool call"]),
        call("launch_rockets", target="moon"),
        call("play_music", music_name="X", volume_level="loud"),
        call("set_light", brightness=3),  # exists in the world but not offered for this case
        AssistantMessage(content="Sorry."),
    ])
    run_episode(model, strategy, state)
    assert state.finish_reason == "answer" and state.turn == 5
    errors = [json.loads(m["content"])["error"]["type"] for m in state.trajectory if m["role"] == "tool"]
    assert errors == ["unknown_tool", "wrong_type", "tool_not_available"]
    assert state.malformed == [{"turn": 1, "error": "invalid JSON in tool call"}]
    feedback = state.trajectory[3]
    assert feedback["role"] == "user" and "malformed_tool_call" in feedback["content"]
    assert state.trajectory[2]["content"].startswith("<tool_call>")
    assert [c[0] for c in world.calls] == ["play_music"]  # refused calls never reach the world
    assert world.played == []


def test_fc_stops_at_max_turns() -> None:
    _, strategy, state = start("fc", max_turns=4)
    run_episode(ScriptedModel([call("get_music_list_in_favorites")], repeat_last=True), strategy, state)
    assert state.finish_reason == "max_turns" and state.turn == 4


def test_retrieval_setting_offers_only_search_tools_until_found() -> None:
    world, strategy, state = start("fc", setting="retrieval")
    assert [t["function"]["name"] for t in strategy.request(state).tools] == ["search_tools", "get_tool_doc"]
    model = ScriptedModel([
        call("play_music", music_name="A", volume_level=35),  # not found yet -> refused
        call("search_tools", query="music"),
        call("play_music", music_name="A", volume_level=35),
        AssistantMessage(content="Done."),
    ])
    run_episode(model, strategy, state)
    first = json.loads(state.trajectory[3]["content"])
    assert first["error"]["type"] == "tool_not_available"
    assert state.toolbox.discovered == ["play_music", "get_music_list_in_favorites"]
    assert world.played == [{"music_name": "A", "volume_level": 35}]
    offered = [t["function"]["name"] for t in model.calls and strategy.request(state).tools]
    assert offered[:2] == ["search_tools", "get_tool_doc"] and "play_music" in offered


def test_react_parses_actions_and_final_answer() -> None:
    world, strategy, state = start("react")
    model = ScriptedModel([
        AssistantMessage(content='Thought: check favourites\nAction: get_music_list_in_favorites\nAction Input: {}'),
        AssistantMessage(content='Thought: play\nAction: play_music\nAction Input: {"music_name": "Clair de Lune",'
                                 ' "volume_level": 35}\nObservation: made up'),
        AssistantMessage(content="Thought: I can now answer\nFinal Answer: Playing Clair de Lune."),
    ])
    run_episode(model, strategy, state)
    assert state.finish_reason == "answer"
    assert world.played == [{"music_name": "Clair de Lune", "volume_level": 35}]
    request = strategy.request(state)
    assert request.tools is None
    assert "Action Input" in request.messages[0]["content"] and "play_music" in request.messages[0]["content"]
    observations = [m for m in request.messages if m["role"] == "user" and m["content"].startswith("Observation:")]
    assert len(observations) == 2
    assert state.trajectory[-3]["tool_calls"][0]["function"]["name"] == "play_music"
    assert "\nObservation:" in strategy.generation(__import__("tooltune.models.types", fromlist=["x"])
                                                   .GenerationConfig()).stop


@pytest.mark.parametrize("text, error", [
    ("Action: play_music", "missing the 'Action Input:'"),
    ("Action: play_music\nAction Input: {\"music_name\": ", "truncated JSON"),
    ("Action: play_music\nAction Input: [1, 2]", "must be a JSON object"),
    ("Action:   \nAction Input: {}", "empty tool name"),
])
def test_react_malformed_text_is_an_error(text: str, error: str) -> None:
    step = parse_react(text)
    assert step.calls == [] and step.final is None
    assert any(error in e for e in step.errors)


def test_react_malformed_turn_continues_episode() -> None:
    world, strategy, state = start("react")
    model = ScriptedModel([AssistantMessage(content="Action: play_music\nAction Input: {oops}"),
                           AssistantMessage(content="Final Answer: ok")])
    run_episode(model, strategy, state)
    assert state.turn == 2 and state.finish_reason == "answer" and world.calls == []
    assert "malformed_tool_call" in state.trajectory[3]["content"]


def test_plan_then_act_plans_without_tools_then_calls() -> None:
    world, strategy, state = start("plan")
    seen_tools: list = []

    def policy(messages, tools):
        seen_tools.append(tools)
        if len(seen_tools) == 1:
            return AssistantMessage(content="1. get favourites 2. play at volume 35")
        if len(seen_tools) == 2:
            return call("play_music", music_name="A", volume_level=35)
        return AssistantMessage(content="Playing A.")

    run_episode(ScriptedModel(policy), strategy, state)
    assert seen_tools[0] is None and {t["function"]["name"] for t in seen_tools[1]} == set(GIVEN)
    assert "numbered plan" in state.trajectory[2]["content"] and "play_music" in state.trajectory[2]["content"]
    assert state.trajectory[3]["content"].startswith("1. get favourites")
    assert world.played == [{"music_name": "A", "volume_level": 35}] and state.finish_reason == "answer"


def test_react_text_after_final_answer_is_the_answer_even_when_it_holds_json() -> None:
    from tooltune.bench.strategies.react import parse_react

    step = parse_react('Thought: done\nFinal Answer: here are the tools [{"name": "play_music", "arguments": {}}]')
    assert step.calls == [] and step.errors == []
    assert step.final == 'here are the tools [{"name": "play_music", "arguments": {}}]'
    acted = parse_react('Thought: first\nAction: play_music\nAction Input: {}\nFinal Answer: later')
    assert [c.name for c in acted.calls] == ["play_music"]
