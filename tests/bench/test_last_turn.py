"""The last turn the budget allows, and the turn after a repeated call, ask for the final answer (tool_choice
none), unless switched off."""

from __future__ import annotations

from pathlib import Path

from tests.bench.fakes import FakeWorld
from tests.models.conftest import make_model, make_tokenizer
from tooltune.bench.config import EPISODE_FIELDS, RunConfig
from tooltune.bench.episode import EpisodeKey
from tooltune.bench.runner import run_episode
from tooltune.bench.strategies import get_strategy
from tooltune.bench.toolbox import Toolbox
from tooltune.models.hf_local import HFChatModel
from tooltune.models.scripted import ScriptedModel
from tooltune.models.types import AssistantMessage, GenerationConfig, ToolCall

OPENING = [{"role": "system", "content": "You help Maya."}, {"role": "user", "content": "Play some music I like."}]
GIVEN = ["play_music", "get_music_list_in_favorites"]


def always_calls(messages, tools) -> AssistantMessage:
    return AssistantMessage(tool_calls=[ToolCall(id="x", name="get_music_list_in_favorites", arguments={})])


def run(name: str, max_turns: int, policy=always_calls, **options) -> tuple[ScriptedModel, object]:
    options.setdefault("answer_on_repeat", False)  # these tests are about the budget's last turn
    strategy = get_strategy(name, **options)
    state = strategy.begin(EpisodeKey("c1", name, "given", 0), OPENING, Toolbox(FakeWorld(), "given", GIVEN), max_turns)
    model = ScriptedModel(policy)
    run_episode(model, strategy, state)
    return model, state


def test_fc_asks_for_the_answer_on_the_last_turn_only() -> None:
    model, state = run("fc", max_turns=3)
    assert model.tool_choices == [None, None, "none"]  # auto is not passed; the last turn forbids calls
    assert state.finish_reason == "max_turns"  # a model that ignores tool_choice is still cut off
    model, state = run("fc", max_turns=3, answer_on_last_turn=False)
    assert model.tool_choices == [None, None, None]
    model, _ = run("fc", max_turns=1)
    assert model.tool_choices == ["none"]


def test_the_answer_turn_asks_the_user_question_and_the_record_shows_it() -> None:
    from tooltune.bench.strategies.base import FINAL_ANSWER_REQUEST

    model, state = run("fc", max_turns=2)
    assert model.calls[0][-1]["role"] == "user" and model.calls[0][-1] != FINAL_ANSWER_REQUEST
    assert model.calls[1][-1] == FINAL_ANSWER_REQUEST  # the last request ends with the user asking for the answer
    roles = [m["role"] for m in state.trajectory]
    assert roles == ["system", "user", "assistant", "tool", "user", "assistant", "tool"]
    assert state.trajectory[4] == FINAL_ANSWER_REQUEST
    model, state = run("fc", max_turns=2, answer_on_last_turn=False)
    assert FINAL_ANSWER_REQUEST not in state.trajectory and FINAL_ANSWER_REQUEST not in model.calls[1]
    model, state = run("react", max_turns=2)
    assert model.calls[1][-1] == FINAL_ANSWER_REQUEST and FINAL_ANSWER_REQUEST in state.trajectory
    model, state = run("plan", max_turns=1)  # the only turn plans: nothing to answer yet
    assert FINAL_ANSWER_REQUEST not in state.trajectory


def test_react_and_plan_last_turns_allow_only_a_final_answer() -> None:
    strategy = get_strategy("react")
    state = strategy.begin(EpisodeKey("c1", "react", "given", 0), OPENING, Toolbox(FakeWorld(), "given", GIVEN), 2)
    assert strategy.request(state).constraint.allowed == GIVEN
    state.turn = 1
    assert strategy.request(state).constraint.allowed == []
    model, _ = run("plan", max_turns=3, tool_choice="required")
    assert model.tool_choices == [None, "required", "none"]  # plan turn, an act turn, the answer turn


def test_run_config_carries_the_options_and_old_runs_default_to_them() -> None:
    for option in ("answer_on_last_turn", "answer_on_repeat"):
        assert option in EPISODE_FIELDS and getattr(RunConfig(model="m"), option)
        old = RunConfig(model="m").to_dict()
        del old[option]
        assert getattr(RunConfig.from_dict(old), option) is True
        assert RunConfig(model="m").mismatch(RunConfig(model="m", **{option: False}))


def calls_then_answers(messages, tools) -> AssistantMessage:
    """Calls the favourites again and again, until the user asks for the answer."""
    if messages[-1]["role"] == "user" and "answer me" in messages[-1]["content"]:
        return AssistantMessage(content="Done: here is your music.")
    return always_calls(messages, tools)


def new_call_every_turn(messages, tools) -> AssistantMessage:
    turn = sum(m["role"] == "assistant" for m in messages)
    return AssistantMessage(tool_calls=[ToolCall(id="x", name="play_music", arguments={"music_name": f"song {turn}"})])


def test_a_repeated_call_makes_the_next_turn_the_answer_turn() -> None:
    from tooltune.bench.strategies.base import FINAL_ANSWER_REQUEST

    model, state = run("fc", max_turns=6, policy=calls_then_answers, answer_on_repeat=True)
    assert model.tool_choices == [None, None, "none"]  # turn 2 repeated turn 1: turn 3 asks for the answer
    assert state.finish_reason == "answer" and state.trajectory[-2] == FINAL_ANSWER_REQUEST
    model, state = run("fc", max_turns=6, policy=new_call_every_turn, answer_on_repeat=True)
    assert model.tool_choices == [None] * 5 + ["none"]  # new calls every turn: only the budget's last turn asks
    model, state = run("fc", max_turns=6, policy=calls_then_answers, answer_on_repeat=False)
    assert model.tool_choices == [None] * 5 + ["none"]
    model, state = run("react", max_turns=6, policy=calls_then_answers, answer_on_repeat=True)
    assert FINAL_ANSWER_REQUEST in model.calls[2]


def test_repetition_means_every_call_of_the_latest_turn_was_made_before_with_the_same_arguments() -> None:
    from tooltune.bench.episode import CallLog, EpisodeState

    def state_with(*calls: tuple[int, str, dict]) -> EpisodeState:
        state = EpisodeState(EpisodeKey("c1", "fc", "given", 0), [], Toolbox(FakeWorld(), "given", GIVEN), 9)
        state.calls = [CallLog(turn, f"id{i}", name, args, {}) for i, (turn, name, args) in enumerate(calls)]
        state.turn = max((turn for turn, _, _ in calls), default=0)
        return state

    assert not state_with().repeated_itself()
    assert not state_with((1, "play_music", {"music_name": "a"})).repeated_itself()
    assert state_with((1, "play_music", {"music_name": "a", "volume_level": 3}),
                      (2, "play_music", {"volume_level": 3, "music_name": "a"})).repeated_itself()  # key order
    assert not state_with((1, "play_music", {"music_name": "a"}), (2, "play_music", {"music_name": "b"})).repeated_itself()
    assert not state_with((1, "play_music", {"music_name": "a"}), (2, "play_music", {"music_name": "a"}),
                          (2, "get_music_list_in_favorites", {})).repeated_itself()  # one new call among them
    assert not state_with((1, "play_music", {"music_name": "a"}), (1, "play_music", {"music_name": "a"})).repeated_itself()


def test_a_local_model_answers_in_text_on_its_last_turn(tmp_path: Path) -> None:
    """Under the grammar, the last turn of a local model cannot open a call: the episode ends with an answer."""
    tokenizer = make_tokenizer()
    chat = HFChatModel(make_model("llama", len(tokenizer)), tokenizer, name="tiny")
    strategy = get_strategy("fc", tool_choice="required")
    state = strategy.begin(EpisodeKey("c1", "fc", "given", 0), OPENING, Toolbox(FakeWorld(), "given", GIVEN), 2)
    run_episode(chat, strategy, state, GenerationConfig(max_new_tokens=12))
    assert state.turn == 2
    assert state.trajectory[-1]["role"] == "assistant" and not state.trajectory[-1].get("tool_calls")
    assert state.finish_reason == "answer"
