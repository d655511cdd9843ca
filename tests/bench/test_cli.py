"""`tooltune bench run / judge / report / import-etapp` end to end, with agent and judge on a local HTTP server."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

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
