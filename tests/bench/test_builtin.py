"""The harness on tooltune's own sandbox: gold trajectories replayed through every strategy score fully."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.gold import GoldReplay
from tooltune.bench.config import RunConfig
from tooltune.bench.run import run_benchmark
from tooltune.bench.runner import Runner, sandbox_harness
from tooltune.bench.selection import select_cases
from tooltune.bench.store import RunStore
from tooltune.models.scripted import ScriptedModel
from tooltune.sandbox.prompts import episode_messages
from tooltune.sandbox.reference import gold_trajectory
from tooltune.sandbox.suite import builtin_suite


@pytest.fixture(scope="module")
def suite():
    return builtin_suite()


def replay_model(suite, cases) -> ScriptedModel:
    golds = {}
    for case in cases:
        opening = episode_messages(case)
        with suite.open_world(case) as world:
            golds[opening[0]["content"] + "\x00" + opening[1]["content"]] = gold_trajectory(case, world)
    return ScriptedModel(GoldReplay(golds))


@pytest.mark.parametrize("strategy", ["fc", "react", "plan"])
def test_gold_replay_passes_every_checkable_keypoint(suite, tmp_path: Path, strategy: str) -> None:
    config = RunConfig(model="gold", strategies=[strategy], limit=12, seed=3, batch_size=6)
    runner = Runner(replay_model(suite, []), suite, config, RunStore(tmp_path), progress=False)
    runner.model = replay_model(suite, list(runner.cases.values()))
    assert runner.run()["failed"] == 0, runner.store.failures()
    records = list(runner.store.records())
    assert len(records) == 12 and all(r.finish_reason == "answer" for r in records)
    decided = [c for r in records for c in r.checks if c["passed"] is not None]
    assert decided and all(c["passed"] for c in decided), [c for c in decided if not c["passed"]]
    assert {c["kind"] for r in records for c in r.checks} == {"personal", "proactive"}


def test_retrieval_setting_finds_tools_then_succeeds(suite, tmp_path: Path) -> None:
    config = RunConfig(model="gold", settings=["retrieval"], limit=6, seed=5)
    runner = Runner(ScriptedModel([]), suite, config, RunStore(tmp_path), progress=False)
    runner.model = replay_model(suite, list(runner.cases.values()))
    assert runner.run()["failed"] == 0, runner.store.failures()
    for record in runner.store.records():
        assert record.offered_tools[:2] == ["search_tools", "get_tool_doc"]
        assert record.calls[0]["name"] == "get_tool_doc"
        assert all(c["passed"] for c in record.checks if c["passed"] is not None)


def test_run_benchmark_on_builtin_suite_writes_report(suite, tmp_path: Path) -> None:
    config = RunConfig(model="gold", limit=4, seed=1, strategies=["fc", "react"])
    cases = select_cases(suite.cases, limit=4, seed=1)
    result = run_benchmark(config, tmp_path / "run", model=replay_model(suite, cases), suite=suite,
                           harness=sandbox_harness(suite), progress=False)
    overall = result.summary["groups"]["fc/given"]["overall"]
    assert overall["success"]["mean"] == 1.0 and overall["checks"]["mean"] == 1.0
    assert result.summary["groups"]["react/given"]["overall"]["success"]["mean"] == 1.0
    html = result.report.read_text()
    assert "tool result" in html and "react/given" in html
