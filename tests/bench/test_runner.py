"""The runner: batched and concurrent modes, durable log, resume after a SIGKILL mid-episode."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench.fakes import FakeSuite, fake_check, fake_opening
from tests.bench.policies import music_policy
from tooltune.bench.config import RunConfig, RunConfigError
from tooltune.bench.runner import Harness, Runner
from tooltune.bench.selection import SelectionError, select_cases
from tooltune.bench.store import RunStore
from tooltune.models.base import ModelError
from tooltune.models.scripted import ScriptedModel

ROOT = Path(__file__).resolve().parents[2]


class BatchCounting(ScriptedModel):
    """Scripted model that overrides chat_batch, recording batch sizes."""

    def __init__(self, policy) -> None:
        super().__init__(policy)
        self.batches: list[int] = []

    def chat_batch(self, requests, config=None):
        self.batches.append(len(requests))
        return [self.chat(r.messages, r.tools, config) for r in requests]


def make_runner(tmp_path: Path, model, **options) -> tuple[Runner, FakeSuite]:
    suite = FakeSuite()
    config = RunConfig(model="scripted", **options)
    runner = Runner(model, suite, config, RunStore(tmp_path / "run"), Harness(suite.open_world, fake_opening,
                                                                              fake_check), progress=False)
    return runner, suite


def test_batched_run_writes_every_episode_with_checks(tmp_path: Path) -> None:
    model = BatchCounting(music_policy)
    runner, suite = make_runner(tmp_path, model, strategies=["fc", "plan"], trials=2, batch_size=4)
    counts = runner.run()
    assert counts == {"done": 24, "failed": 0, "skipped": 0}
    assert max(model.batches) == 4 and not runner.asynchronous
    records = list(runner.store.records())
    assert len(records) == 24 and len({r.key.id for r in records}) == 24
    fc = [r for r in records if r.key.strategy == "fc"]
    assert all(r.checks[0]["passed"] is True and r.turns == 2 for r in fc)
    assert all(r.state_diff == {"played": [{"music_name": "Clair de Lune", "volume_level": 35}]} for r in fc)
    assert all(w.closed for w in suite.opened) and len(suite.opened) == 24


class AsyncScripted(ScriptedModel):
    """A scripted model with its own achat (so the runner treats it like an HTTP backend)."""

    def __init__(self, policy) -> None:
        super().__init__(policy)
        self.in_flight = 0
        self.peak = 0
        self.seeds: list[int | None] = []

    async def achat(self, messages, tools=None, config=None):
        import asyncio
        self.seeds.append(config.seed)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0.001)
        self.in_flight -= 1
        return self.chat(messages, tools, config)


def test_async_run_keeps_concurrency_episodes_in_flight(tmp_path: Path) -> None:
    model = AsyncScripted(music_policy)
    runner, _ = make_runner(tmp_path, model, trials=3, concurrency=5)
    assert runner.asynchronous
    assert runner.run()["done"] == 18
    assert model.peak == 5
    # every call gets its own reproducible seed (so sampled trials differ)
    assert len(set(model.seeds)) == 36 and None not in model.seeds


def test_a_freed_request_slot_finds_the_next_episode_ready(tmp_path: Path) -> None:
    """Opening worlds does not hold request slots: the next episode's world opens while a request is in flight."""
    import asyncio

    class Waiting(AsyncScripted):
        async def achat(self, messages, tools=None, config=None):
            for _ in range(300):  # up to 3 s for a second world to open
                if len(suite.opened) >= 2:
                    break
                await asyncio.sleep(0.01)
            self.worlds_at_first_request = getattr(self, "worlds_at_first_request", len(suite.opened))
            return await super().achat(messages, tools, config)

    model = Waiting(music_policy)
    runner, suite = make_runner(tmp_path, model, concurrency=1)
    assert runner.run()["done"] == 6
    assert model.peak == 1  # requests in flight stay within --concurrency
    assert model.worlds_at_first_request == 2


def test_model_errors_fail_the_episode_and_resume_retries_it(tmp_path: Path) -> None:
    calls = {"n": 0}

    def flaky(messages, tools):
        calls["n"] += 1
        if calls["n"] == 3:
            raise ModelError("server down")
        return music_policy(messages, tools)

    runner, _ = make_runner(tmp_path, ScriptedModel(flaky), batch_size=1)
    assert runner.run() == {"done": 5, "failed": 1, "skipped": 0}
    assert "server down" in next(iter(runner.store.failures().values()))
    runner2, _ = make_runner(tmp_path, ScriptedModel(music_policy))
    assert runner2.run() == {"done": 1, "failed": 0, "skipped": 5}
    assert runner2.store.failures() == {} and runner2.store.count() == 6


def test_resume_after_sigkill_mid_episode(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    # 6 cases x 2 trials, 2 model calls per episode; call 10 is the second turn of episode 5, after its
    # tool call ran: the process dies mid-episode.
    proc = subprocess.run([sys.executable, "-m", "tests.bench.policies", str(run_dir), "10"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == -9, proc.stderr
    store = RunStore(run_dir)
    before = {r.key.id: r for r in store.records()}
    assert len(before) == 4
    store.close()

    model = ScriptedModel(music_policy)
    runner, _ = make_runner(tmp_path, model, trials=2, batch_size=1)
    assert runner.run() == {"done": 8, "failed": 0, "skipped": 4}
    assert len(model.calls) == 16  # only the 8 unfinished episodes ran, each two turns
    after = {r.key.id: r for r in runner.store.records()}
    assert len(after) == 12 == len(runner.episodes)
    assert all(after[k].seconds == before[k].seconds for k in before)  # finished ones untouched
    rows = runner.store._db.execute("SELECT COUNT(*), COUNT(DISTINCT id) FROM episodes").fetchone()
    assert rows == (12, 12)
    assert runner.store._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_selection_filters_and_limits() -> None:
    cases = FakeSuite(n_users=3, n_instructions=4).cases
    assert len(select_cases(cases, users=["u1"])) == 4
    a = select_cases(cases, limit=5, seed=1)
    assert len(a) == 5 and a == select_cases(cases, limit=5, seed=1)
    assert [c.id for c in a] == [c.id for c in cases if c in a]  # suite order kept
    with pytest.raises(SelectionError, match="users"):
        select_cases(cases, users=["nobody"])


def test_config_errors_name_the_field() -> None:
    with pytest.raises(RunConfigError, match="strategies"):
        RunConfig(model="m", strategies=["magic"])
    with pytest.raises(RunConfigError, match="trials"):
        RunConfig(model="m", trials=0)
    a, b = RunConfig(model="m"), RunConfig(model="m", trials=3, concurrency=2)
    assert a.mismatch(b) == ["trials: 3 -> 1"]


def test_backend_bug_fails_only_its_episode(tmp_path: Path) -> None:
    class Buggy(BatchCounting):
        def chat(self, messages, tools=None, config=None):
            if "Explode" in messages[1]["content"]:
                raise ValueError("tokenizer exploded")
            return super().chat(messages, tools, config)

    suite = FakeSuite()
    suite.cases[2].instruction.query = "Explode, please."
    runner = Runner(Buggy(music_policy), suite, RunConfig(model="scripted", batch_size=3), RunStore(tmp_path),
                    Harness(suite.open_world, fake_opening, fake_check), progress=False)
    counts = runner.run()
    assert counts == {"done": 5, "failed": 1, "skipped": 0}
    assert list(runner.store.failures()) == [f"{suite.cases[2].id}|fc|given|0"]
    assert "tokenizer exploded" in next(iter(runner.store.failures().values()))
