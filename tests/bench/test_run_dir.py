"""A whole run on the stand-in suite: run directory layout, scores, report, resume rules, re-scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.fakes import FakeSuite, fake_check, fake_opening
from tests.bench.policies import music_policy
from tooltune.bench.config import RunConfig, RunConfigError
from tooltune.bench.run import rescore_run, run_benchmark
from tooltune.bench.runner import Harness
from tooltune.bench.store import RunStoreError
from tooltune.models.scripted import ScriptedModel
from tooltune.models.types import AssistantMessage, ToolCall


def alternating_policy():
    """Episode n (counted from 1) plays at volume 35, except every fourth plays at 80: mixed outcomes."""
    count = {"episode": 0}

    def policy(messages, tools):
        if messages[-1]["role"] == "tool":
            return AssistantMessage(content="Done.")
        count["episode"] += 1
        volume = 80 if count["episode"] % 4 == 0 else 35
        return AssistantMessage(tool_calls=[ToolCall(id="c", name="play_music",
                                                     arguments={"music_name": "X", "volume_level": volume})])

    return policy


def run(tmp_path: Path, **options):
    suite = FakeSuite()
    harness = Harness(suite.open_world, fake_opening, fake_check)
    config = RunConfig(model="scripted", **options)
    return run_benchmark(config, tmp_path / "run", model=ScriptedModel(alternating_policy()), suite=suite,
                         harness=harness, progress=False), suite, harness


def test_run_writes_log_scores_and_report(tmp_path: Path) -> None:
    result, _, _ = run(tmp_path, trials=3)
    files = {p.name for p in result.run_dir.iterdir()}
    assert {"config.json", "episodes.sqlite", "trajectories.jsonl", "scores.json", "scores.csv", "episodes.csv",
            "cases.csv", "report.html"} <= files
    assert result.counts == {"done": 18, "failed": 0, "skipped": 0}
    lines = (result.run_dir / "trajectories.jsonl").read_text().splitlines()
    assert len(lines) == 18 and json.loads(lines[0])["trajectory"][0]["role"] == "system"
    overall = result.summary["groups"]["fc/given"]["overall"]
    # 6 cases x 3 trials in order; episodes 4, 8, 12, 16 fail -> per case 3,2,2,2,3,2 successes of 3
    assert overall["success"]["mean"] == pytest.approx(14 / 18)
    assert overall["success"]["n"] == 6 and overall["success"]["se"] > 0
    assert overall["pass_hat_k"] == pytest.approx({"1": 14 / 18, "2": (1 + 1 / 3 * 4 + 1) / 6, "3": 2 / 6})
    assert result.summary["unjudged_keypoints"] == 18  # one free-text key point per episode, no judge
    html = result.report.read_text()
    assert "<svg" in html and "pass^k" in html and "play_music" in html and "harness error" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing external
    assert "18 free-text key-point results are unjudged" in html


def test_existing_run_needs_resume_and_same_options(tmp_path: Path) -> None:
    run(tmp_path)
    with pytest.raises(RunStoreError, match="--resume"):
        run(tmp_path)
    suite = FakeSuite()
    with pytest.raises(RunConfigError, match="trials"):
        run_benchmark(RunConfig(model="scripted", trials=2), tmp_path / "run", resume=True,
                      model=ScriptedModel(music_policy), suite=suite, progress=False,
                      harness=Harness(suite.open_world, fake_opening, fake_check))


def test_rescore_replays_checks_without_the_agent_model(tmp_path: Path) -> None:
    result, suite, _ = run(tmp_path, trials=2)
    before = json.loads((result.run_dir / "scores.json").read_text())["summary"]
    calls = []

    def counting_check(case, messages, world):
        calls.append(case.id)
        return fake_check(case, messages, world)

    summary, report = rescore_run(result.run_dir, replay=True, suite=suite,
                                  harness=Harness(suite.open_world, fake_opening, counting_check), progress=False)
    assert len(calls) == 12
    assert summary["groups"] == before["groups"]
    assert report.exists()
