"""`tooltune bench run / judge / report / import-etapp` end to end, with agent and judge on a local HTTP server."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from tests.bench.cli import fake_models, invoke  # noqa: F401 - fake_models is a fixture
from tests.bench.openai_server import OpenAIStubServer
from tests.bench.test_judge import verdict
from tooltune.cli import app


def responder(body: dict) -> dict:
    if body["model"] == "judge":
        text = body["messages"][1]["content"]
        personal = int(re.search(r"Personalization key points \((\d+)\)", text).group(1))
        proactive = int(re.search(r"Proactivity key points \((\d+)\)", text).group(1))
        return {"content": json.dumps(verdict(3, personal, proactive))}
    if body["messages"][-1]["role"] == "tool" or not body.get("tools"):
        return {"content": "All done."}
    name = body["tools"][0]["function"]["name"]
    return {"content": None, "tool_calls": [{"id": "c1", "type": "function",
                                             "function": {"name": name, "arguments": "{}"}}]}


def test_cli_run_judge_report(tmp_path: Path) -> None:
    cli = CliRunner()
    out = tmp_path / "run"
    with OpenAIStubServer(responder) as server:
        agent, judge = f"openai:{server.base_url}#agent", f"openai:{server.base_url}#judge"
        result = cli.invoke(app, ["bench", "run", "--model", agent, "--limit", "3", "--strategy", "fc,react",
                                  "--judge", judge, "--out", str(out), "--quiet"])
        assert result.exit_code == 0, result.output
        assert "report:" in result.output and "fc/given" in result.output
        judged = sum(r["model"] == "judge" for r in server.requests)
        assert judged == 6
        scores = json.loads((out / "scores.json").read_text())["summary"]["groups"]["fc/given"]["overall"]
        assert scores["procedure"]["mean"] == 3.0 and scores["proactivity"]["mean"] == 2.0

        again = cli.invoke(app, ["bench", "judge", str(out), "--judge", judge, "--quiet"])
        assert again.exit_code == 0, again.output
        assert sum(r["model"] == "judge" for r in server.requests) == judged  # all cached

        refused = cli.invoke(app, ["bench", "run", "--model", agent, "--limit", "3", "--out", str(out)])
        assert refused.exit_code != 0 and "--resume" in str(refused.exception)
        resumed = cli.invoke(app, ["bench", "run", "--model", agent, "--limit", "3", "--strategy", "fc,react",
                                   "--out", str(out), "--resume", "--quiet"])
        assert resumed.exit_code == 0 and "'skipped': 6" in resumed.output, resumed.output

    report = cli.invoke(app, ["bench", "report", str(out)])
    assert report.exit_code == 0 and "report:" in report.output


def test_cli_import_etapp_reports_missing(tmp_path: Path) -> None:
    from tests.bench.test_etapp import tiny_release

    result = CliRunner().invoke(app, ["bench", "import-etapp", str(tiny_release(tmp_path / "rel"))])
    assert result.exit_code == 0, result.output
    assert "1 users x 1 instructions = 1 cases" in result.output and "PICKLED" in result.output


# -- through `tooltune.cli.main`, as a user runs it: exit codes and one-line errors -----------------------------

def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_start_up_failures_write_nothing_and_the_corrected_command_runs(tmp_path: Path, fake_models, capsys) -> None:
    out = tmp_path / "run"
    base = ["bench", "run", "--out", str(out), "--limit", "2", "--max-turns", "2", "--quiet"]
    for bad in (["--model", "nosuch"], ["--model", "scripted", "--users", "nobody"],
                ["--model", "scripted", "--suite", f"etapp:{tmp_path / 'missing'}"]):
        code, _, err = invoke(base + bad, capsys)
        assert code == 2, err
        _one_error_line(err)
        assert not out.exists()
    code, out_text, err = invoke(base + ["--model", "scripted"], capsys)
    assert code == 0, err
    assert "'done': 2" in out_text


def test_run_exits_1_when_every_episode_failed(tmp_path: Path, fake_models, capsys) -> None:
    code, out_text, err = invoke(["bench", "run", "--model", "down", "--out", str(tmp_path / "run"), "--limit", "2",
                                  "--quiet"], capsys)
    assert code == 1
    assert "all 2 episodes failed" in _one_error_line(err) and "timed out" in err
    assert (tmp_path / "run" / "report.html").exists()  # the failures are reported, and resumable


def test_an_unreachable_judge_fails_the_run_after_scores_are_written(tmp_path: Path, fake_models, capsys,
                                                                     monkeypatch) -> None:
    import tests.bench.fakes as fakes

    calls, real = [], fakes.unreachable

    def counted(messages, tools):
        calls.append(1)
        return real(messages, tools)

    monkeypatch.setattr(fakes, "unreachable", counted)
    out = tmp_path / "run"
    code, out_text, err = invoke(["bench", "run", "--model", "scripted", "--judge", "judge-down", "--out", str(out),
                                  "--limit", "3", "--max-turns", "2", "--quiet"], capsys)
    assert code == 1
    assert "no judge gave a verdict for any of the 3 episodes" in _one_error_line(err)
    assert "no judge configured" not in out_text and "no judge verdict" in out_text
    assert len(calls) == 1  # an unreachable judge is not asked again for every episode
    scores = json.loads((out / "scores.json").read_text())
    assert len(scores["cases"]) == 3
    code, _, err = invoke(["bench", "judge", str(out), "--judge", "judge", "--quiet"], capsys)
    assert code == 0, err
    assert json.loads((out / "scores.json").read_text())["summary"]["groups"]["fc/given"]["overall"]["procedure"]


def test_bench_errors_are_one_line_naming_what_to_fix(tmp_path: Path, fake_models, capsys) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("mine")
    cases = [(["bench", "report", str(tmp_path / "nowhere")], "not a run directory"),
             (["bench", "judge", str(tmp_path / "nowhere"), "--replay"], "not a run directory"),
             (["bench", "import-etapp", str(tmp_path / "nowhere")], "not found"),
             (["bench", "run", "--model", "scripted", "--out", str(tmp_path / "notes")], "not empty"),
             (["bench", "run", "--model", "scripted", "--judge", "nosuch", "--out", str(tmp_path / "r")], "--judge"),
             (["bench", "run", "--model", "openai:https://me:sk-secret@example.com/v1#m", "--out",
               str(tmp_path / "r")], "credentials")]
    for argv, expected in cases:
        code, _, err = invoke(argv, capsys)
        assert code == 2, (argv, err)
        assert expected in _one_error_line(err), err
        assert "sk-secret" not in err
    assert not (tmp_path / "r").exists() and [p.name for p in (tmp_path / "notes").iterdir()] == ["a.txt"]
