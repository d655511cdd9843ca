"""SFT export: records match gold trajectories; splits hold out whole users or instructions."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tooltune.cli import app as cli_app
from tooltune.sandbox.export import export_sft, filter_apps, split_cases


@pytest.mark.parametrize("by", ["user", "instruction"])
def test_splits_are_disjoint_and_complete(suite, by) -> None:
    train, test = split_cases(suite.cases, by=by, test_fraction=0.25, seed=3)
    assert len(train) + len(test) == len(suite.cases) and test and train
    key = (lambda c: c.user.id) if by == "user" else (lambda c: c.instruction.id)
    assert not {key(c) for c in train} & {key(c) for c in test}
    assert split_cases(suite.cases, by=by, test_fraction=0.25, seed=3)[1] == test
    assert split_cases(suite.cases, by=by, test_fraction=0.25, seed=4)[1] != test
    with pytest.raises(ValueError, match="by must be"):
        split_cases(suite.cases, by="app")  # type: ignore[arg-type]


def test_export_per_app_and_without_profile(suite, tmp_path) -> None:
    out = tmp_path / "weather.jsonl"
    count = export_sft(out, suite.cases, apps=["weather"], include_profile=False)
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert count == len(records) == len(filter_apps(suite.cases, ["weather"])) > 0
    for record in records:
        case = suite.case(record["id"])
        assert case.instruction.apps[0] == "weather"
        assert [t["function"]["name"] for t in record["tools"]] == case.instruction.tools
        assert "User profile" not in record["messages"][0]["content"]
        assert record["messages"][-1]["role"] == "assistant"
    with pytest.raises(ValueError, match="unknown apps"):
        export_sft(out, suite.cases, apps=["cooking"])


def test_export_test_split_by_user(suite, tmp_path) -> None:
    out = tmp_path / "test.jsonl"
    export_sft(out, suite.cases, "test", by="user", test_fraction=0.125, apps=["music"])
    users = {json.loads(line)["id"].split("@")[1] for line in out.read_text().splitlines()}
    assert len(users) == 2


def test_cli_commands(tmp_path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["sandbox", "list-tools"])
    assert listed.exit_code == 0 and "play_music" in listed.output and "46 tools" in listed.output
    shown = runner.invoke(cli_app, ["sandbox", "show-user", "Maya Chen"])
    assert shown.exit_code == 0 and "Seattle" in shown.output and "volume: 35" in shown.output
    missing = runner.invoke(cli_app, ["sandbox", "show-user", "nobody"])
    assert missing.exit_code != 0 and "known users" in missing.output
    cases = runner.invoke(cli_app, ["sandbox", "list-cases", "--user", "maya_chen"])
    assert cases.exit_code == 0 and "music-play-01@maya_chen" in cases.output
    out = tmp_path / "sft.jsonl"
    exported = runner.invoke(cli_app, ["sandbox", "export-sft", str(out), "--apps", "web", "--split", "train"])
    assert exported.exit_code == 0, exported.output
    assert len(out.read_text().splitlines()) == int(exported.output.split("wrote ")[1].split()[0]) > 0
