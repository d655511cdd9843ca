"""A whole run on the stand-in suite: run directory layout, scores, report, resume rules, re-scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bench.fakes import FakeSuite, fake_check, fake_opening
from tests.bench.policies import music_policy
from tooltune.bench.config import RunConfig, RunConfigError
from tooltune.bench.run import rescore_run, run_benchmark
from tooltune.bench.rundir import RunLock, RunLockedError
from tooltune.bench.runner import Harness
from tooltune.bench.selection import SelectionError
from tooltune.bench.store import RunStoreError
from tooltune.bench.suites import SuiteSpecError
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


def _digest(root: Path) -> dict[str, str]:
    import hashlib

    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.iterdir())
            if p.is_file() and p.name != ".lock"}


def test_rescoring_a_directory_without_its_log_is_refused_and_writes_nothing(tmp_path: Path) -> None:
    result, suite, harness = run(tmp_path)
    (result.run_dir / "episodes.sqlite").unlink()
    before = _digest(result.run_dir)
    with pytest.raises(RunStoreError, match="episodes.sqlite is missing"):
        rescore_run(result.run_dir, progress=False)
    with pytest.raises(RunStoreError, match="episodes.sqlite is missing"):
        rescore_run(result.run_dir, replay=True, suite=suite, harness=harness, progress=False)
    assert _digest(result.run_dir) == before and not (result.run_dir / "episodes.sqlite").exists()


def test_rescoring_never_drops_exported_episodes_the_log_lacks(tmp_path: Path) -> None:
    import sqlite3
    from contextlib import closing

    result, _, _ = run(tmp_path)
    with closing(sqlite3.connect(result.run_dir / "episodes.sqlite")) as db, db:
        db.execute("DELETE FROM episodes")  # a log replaced or damaged: its episodes live only in the export now
    before = _digest(result.run_dir)
    with pytest.raises(RunStoreError, match="trajectories.jsonl holds 6 episodes that episodes.sqlite lacks"):
        rescore_run(result.run_dir, progress=False)
    assert _digest(result.run_dir) == before


def test_damaged_config_log_and_judgments_are_errors_naming_the_file(tmp_path: Path) -> None:
    result, _, _ = run(tmp_path)
    run_dir = result.run_dir
    (run_dir / "judgments.json").write_text('{"x": ')
    with pytest.raises(RunStoreError, match=r"judgments.json: unreadable"):
        rescore_run(run_dir, progress=False)
    (run_dir / "judgments.json").unlink()
    config = json.loads((run_dir / "config.json").read_text())
    (run_dir / "config.json").write_text(json.dumps(config | {"trials": "two"}))
    with pytest.raises(RunConfigError, match=r"config.json: trials: expected int, got 'two'"):
        rescore_run(run_dir, progress=False)
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "episodes.sqlite").write_bytes(b"garbage" * 100)
    with pytest.raises(RunStoreError, match=r"episodes.sqlite: unreadable run log"):
        rescore_run(run_dir, progress=False)


def test_a_start_up_failure_leaves_no_trace(tmp_path: Path) -> None:
    suite = FakeSuite()
    harness = Harness(suite.open_world, fake_opening, fake_check)
    out = tmp_path / "run"
    with pytest.raises(SelectionError, match="users"):
        run_benchmark(RunConfig(model="scripted", users=["nobody"]), out, model=ScriptedModel(music_policy),
                      suite=suite, harness=harness, progress=False)
    assert not out.exists()
    with pytest.raises(SuiteSpecError):
        run_benchmark(RunConfig(model="scripted", suite="nonsense"), out, progress=False)
    assert not out.exists()
    result = run_benchmark(RunConfig(model="scripted"), out, model=ScriptedModel(music_policy), suite=suite,
                           harness=harness, progress=False)  # the corrected command is not refused
    assert result.counts["done"] == 6


def test_a_non_empty_directory_that_is_no_run_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    suite = FakeSuite()
    for resume in (False, True):
        with pytest.raises(RunStoreError, match="not empty and holds no tooltune run"):
            run_benchmark(RunConfig(model="scripted"), out, resume=resume, model=ScriptedModel(music_policy),
                          suite=suite, harness=Harness(suite.open_world, fake_opening, fake_check), progress=False)
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_a_second_writer_is_refused_while_the_directory_is_locked(tmp_path: Path) -> None:
    result, suite, harness = run(tmp_path)
    with RunLock(result.run_dir):
        with pytest.raises(RunLockedError, match="in use by another tooltune process"):
            run_benchmark(RunConfig(model="scripted"), result.run_dir, resume=True, model=ScriptedModel(music_policy),
                          suite=suite, harness=harness, progress=False)
        with pytest.raises(RunLockedError):
            rescore_run(result.run_dir, progress=False)
    rescore_run(result.run_dir, progress=False)  # released on exit


def test_a_second_resume_in_another_process_is_refused(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    result, _, _ = run(tmp_path)
    script = ("import sys, time; from pathlib import Path; from tooltune.bench.rundir import RunLock\n"
              "with RunLock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", script, str(result.run_dir)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        start = time.perf_counter()
        with pytest.raises(RunLockedError, match=f"pid {holder.pid}"):
            rescore_run(result.run_dir, progress=False)
        assert time.perf_counter() - start < 5  # refused at once, not after waiting
    finally:
        holder.kill()
        holder.wait()


def test_concurrent_writers_of_one_file_never_collide(tmp_path: Path) -> None:
    import threading

    from tooltune.bench.scores import write_json, write_table

    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(40):
                write_json(tmp_path / "scores.json", {"writer": n, "i": i})
                write_table(tmp_path / "cases.csv", [{"writer": n, "i": i}])
        except BaseException as error:  # noqa: BLE001 - collected for the assertion
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:1]
    assert json.loads((tmp_path / "scores.json").read_text())["i"] == 39
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cases.csv", "scores.json"]  # no temporary left
