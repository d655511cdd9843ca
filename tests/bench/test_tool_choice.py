"""tool_choice through the benchmark: config, strategies, runner, the well-formed-call rate, the CLI option."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.bench.cli import invoke
from tests.bench.fakes import FakeSuite, FakeWorld, fake_check, fake_opening
from tests.bench.policies import music_policy
from tests.models.conftest import make_model, make_tokenizer
from tests.train.tiny import tiny_llama, tiny_tokenizer
from tooltune.bench.config import EPISODE_FIELDS, RunConfig, RunConfigError
from tooltune.bench.episode import EpisodeKey
from tooltune.bench.runner import Harness, Runner
from tooltune.bench.scores import aggregate, summary_text, well_formed_rate
from tooltune.bench.store import RunStore
from tooltune.bench.strategies import get_strategy
from tooltune.bench.toolbox import Toolbox
from tooltune.cli import app
from tooltune.models.hf_local import HFChatModel
from tooltune.models.scripted import ScriptedModel
from tooltune.models.types import GenerationConfig

OPENING = [{"role": "system", "content": "You help Maya."}, {"role": "user", "content": "Play some music I like."}]
GIVEN = ["play_music", "get_music_list_in_favorites"]


def test_run_config_validates_tool_choice() -> None:
    assert RunConfig(model="m").tool_choice == "auto" and "tool_choice" in EPISODE_FIELDS
    for good in ("auto", "required", "none", "play_music", "ns.tool-2"):
        assert RunConfig(model="m", tool_choice=good).tool_choice == good
    for bad in ("", "play music", "x" * 65, "tools;rm", None):
        with pytest.raises(RunConfigError, match="tool_choice"):
            RunConfig(model="m", tool_choice=bad)
    assert RunConfig(model="m").mismatch(RunConfig(model="m", tool_choice="required")) == [
        "tool_choice: 'required' -> 'auto'"]
    old = RunConfig(model="m").to_dict()
    del old["tool_choice"]  # a run directory written before tool_choice existed
    assert RunConfig.from_dict(old).tool_choice == "auto"


def start(name: str, tool_choice: str, setting: str = "given"):
    strategy = get_strategy(name, tool_choice=tool_choice)
    state = strategy.begin(EpisodeKey("c1", name, setting, 0), OPENING, Toolbox(FakeWorld(), setting, GIVEN))
    return strategy, state


def test_strategies_put_the_run_choice_on_their_requests() -> None:
    strategy, state = start("fc", "required")
    request = strategy.request(state)
    assert request.tool_choice == "required" and request.tool_constraint().allowed == GIVEN
    strategy, state = start("fc", "play_music")
    assert strategy.request(state).tool_choice == {"type": "function", "function": {"name": "play_music"}}
    strategy, state = start("fc", "play_music", setting="retrieval")  # not offered yet: this turn stays auto
    assert strategy.request(state).tool_choice == "auto"
    strategy, state = start("react", "none")
    request = strategy.request(state)
    assert request.tools is None and request.constraint.format == "react" and request.constraint.allowed == []
    strategy, state = start("react", "get_music_list_in_favorites")
    assert strategy.request(state).constraint.allowed == ["get_music_list_in_favorites"]
    strategy, state = start("plan", "required")
    assert strategy.request(state).tools is None and strategy.request(state).tool_choice is None  # planning turn


def make_runner(tmp_path: Path, model, **options) -> Runner:
    suite = FakeSuite()
    config = RunConfig(model="scripted", **options)
    return Runner(model, suite, config, RunStore(tmp_path / "run"), Harness(suite.open_world, fake_opening, fake_check),
                  progress=False)


def test_runner_passes_tool_choice_to_the_model_only_when_not_auto(tmp_path: Path) -> None:
    model = ScriptedModel(music_policy)
    make_runner(tmp_path / "a", model, tool_choice="play_music", max_turns=3).run()
    assert {"type": "function", "function": {"name": "play_music"}} in model.tool_choices
    auto = ScriptedModel(music_policy)
    assert make_runner(tmp_path / "b", auto).run()["failed"] == 0
    assert set(auto.tool_choices) == {None}  # the default is not passed, so older backends keep working


def test_well_formed_rate_counts_invalid_and_unparseable_calls() -> None:
    ok = {"response": {"result": "playing"}}
    refused = {"response": {"error": {"type": "not_found", "message": "no such id"}}}  # valid call, failed action
    bad_args = {"response": {"error": {"type": "invalid_arguments", "message": "volume_level: not an integer"}}}
    unknown = {"response": {"error": {"type": "unknown_tool", "message": "launch_rockets"}}}
    assert well_formed_rate([ok, refused, bad_args], [{"error": "truncated JSON"}]) == 0.5
    assert well_formed_rate([unknown], []) == 0.0
    assert well_formed_rate([], []) is None
    rows = [{"episode": f"e{i}", "case_id": f"c{i}", "user": "u", "apps": "music", "strategy": "fc", "setting": "given",
             "trial": 0, "finish_reason": "answer", "checks": None, "checks_personal": None, "checks_proactive": None,
             "success": None, "turns": 2.0, "tool_calls": 1.0, "tool_errors": 0.0, "malformed": 0.0,
             "well_formed_rate": rate, "unjudged_keypoints": 0, "procedure": None, "personalization": None,
             "proactivity": None} for i, rate in enumerate([1.0, 0.5, None])]
    summary = aggregate(rows)
    stat = summary["groups"]["fc/given"]["overall"]["well_formed_rate"]
    assert stat["mean"] == 0.75 and stat["n"] == 2
    assert "well_formed_rate" in summary_text(summary) and "0.750" in summary_text(summary)


def test_a_local_model_under_a_forced_tool_makes_only_well_formed_calls(tmp_path: Path) -> None:
    tokenizer = make_tokenizer()  # byte-level: it can spell anything
    model = HFChatModel(make_model("llama", len(tokenizer)), tokenizer, name="tiny")
    suite = FakeSuite(n_users=2, n_instructions=1)
    config = RunConfig(model="tiny", strategies=["fc"], max_turns=2, max_new_tokens=90, batch_size=2,
                       tool_choice="get_music_list_in_favorites", answer_on_last_turn=False)
    runner = Runner(model, suite, config, RunStore(tmp_path), Harness(suite.open_world, fake_opening, fake_check),
                    progress=False)
    assert runner.run() == {"done": 2, "failed": 0, "skipped": 0}, runner.store.failures()
    for record in runner.store.records():
        assert [c["name"] for c in record.calls] == ["get_music_list_in_favorites"] * 2  # one per turn, forced
        assert record.malformed == [] and well_formed_rate(record.calls, record.malformed) == 1.0


def test_a_vocabulary_that_cannot_spell_the_call_ends_the_answer_instead_of_crashing() -> None:
    tokenizer = tiny_tokenizer()  # no "list" or "favorites": get_music_list_in_favorites cannot be written
    model = HFChatModel(tiny_llama(vocab_size=len(tokenizer)), tokenizer, name="tiny")
    world = FakeWorld()
    for config in (GenerationConfig(max_new_tokens=30), GenerationConfig(max_new_tokens=30, temperature=1.0, seed=1)):
        answer = model.chat(OPENING, world.tool_schemas(GIVEN), config, tool_choice="get_music_list_in_favorites")
        assert answer.tool_calls == [] and "truncated" in answer.parse_errors[0]
        assert answer.usage.completion_tokens < 30  # ended where the grammar got stuck


def test_cli_rejects_a_bad_tool_choice(tmp_path: Path, capsys) -> None:
    code, _, err = invoke(["bench", "run", "--model", "openai:http://127.0.0.1:9/v1#m",
                           "--tool-choice", "no spaces please", "--out", str(tmp_path / "r")], capsys)
    assert code == 2 and err.startswith("error: tool_choice")
    assert not (tmp_path / "r").exists()
    help_text = CliRunner().invoke(app, ["bench", "run", "--help"]).output
    assert "--tool-choice" in help_text and "auto (default" in help_text
