"""The CLI commands of this area on a tiny checkpoint directory: `tooltune importance`, `tooltune train citi`."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tests.train.run_cli import run_cli
from tests.train.tiny import tiny_llama, tiny_tokenizer, tool_example
from tooltune.cli import app


@pytest.fixture()
def checkpoint(tmp_path):
    tok = tiny_tokenizer()
    path = tmp_path / "tiny"
    tiny_llama(len(tok)).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture()
def sft(tmp_path):
    path = tmp_path / "sft.jsonl"
    cities = ["paris", "berlin", "rome", "paris", "berlin", "rome"]
    path.write_text("".join(json.dumps(tool_example(c)) + "\n" for c in cities))
    return path


def test_importance_command_writes_json_and_heatmaps(checkpoint, sft, tmp_path) -> None:
    out = tmp_path / "imp" / "scores.json"
    result = CliRunner().invoke(app, ["importance", "--model", str(checkpoint), "--data", str(sft), "--out", str(out),
                                      "--batches", "2", "--max-length", "512"])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [a["ability"] for a in data["abilities"]] == ["tool", "general"]
    assert len(data["abilities"][0]["scores"]) == 14
    assert (out.parent / "scores.tool.svg").is_file() and (out.parent / "scores.general.svg").is_file()


def test_train_citi_rejects_unknown_method(checkpoint, sft, tmp_path, capsys) -> None:
    code, _, err = run_cli(["train", "citi", "--model", str(checkpoint), "--data", str(sft),
                            "--out", str(tmp_path / "o"), "--method", "lora,magic"], capsys)
    assert code == 2 and err.startswith("error: --method") and "magic" in err and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_train_citi_compares_methods_in_one_table(checkpoint, sft, tmp_path) -> None:
    out = tmp_path / "run"
    args = ["train", "citi", "--model", str(checkpoint), "--data", str(sft), "--eval-size", "2", "--out", str(out),
            "--method", "base,lora,full,citi", "--epochs", "1", "--batch-size", "2", "--max-length", "512",
            "--importance-batches", "1", "--cloze-items", "4", "--retention-windows", "1", "--max-new-tokens", "8",
            "--top-fraction", "0.3", "--full-fraction", "0.5"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads((out / "results.json").read_text())
    assert [r["method"] for r in rows] == ["base", "lora", "full", "citi"]
    assert rows[0]["trainable_parameters"] == 0 and rows[1]["trainable_parameters"] > 0
    assert rows[3]["molora_modules"] == 5 and len(rows[3]["full_tune_modules"]) == 1
    assert "| citi |" in (out / "table.md").read_text()
    assert (out / "lora" / "adapter" / "adapter_config.json").is_file()
    assert (out / "citi" / "adapter" / "adapter_model.safetensors").is_file()
    again = CliRunner().invoke(app, args)  # finished methods are not retrained
    assert again.exit_code == 0 and json.loads((out / "results.json").read_text()) == rows


def test_bad_data_is_reported_as_a_usage_error(checkpoint, tmp_path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    code, _, err = run_cli(["train", "citi", "--model", str(checkpoint), "--data", str(bad),
                            "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and err.count("\n") == 1 and "bad.jsonl:1" in err and "assistant" in err
    code, _, err = run_cli(["importance", "--model", str(checkpoint), "--data", str(bad),
                            "--out", str(tmp_path / "i.json")], capsys)
    assert code == 2 and err.count("\n") == 1 and "bad.jsonl:1" in err
    code, _, err = run_cli(["importance", "--model", str(tmp_path / "no-model"), "--data", str(bad.parent / "x"),
                            "--out", str(tmp_path / "i.json")], capsys)
    assert code == 2 and "Invalid value for '--data'" in err  # a click usage error: the file does not exist


def test_train_citi_refuses_data_that_leaves_nothing_to_train_or_score(checkpoint, sft, tmp_path, capsys) -> None:
    out = tmp_path / "o"
    code, _, err = run_cli(["train", "citi", "--model", str(checkpoint), "--data", str(sft), "--eval-size", "2",
                            "--calls-per-example", "2", "--out", str(out)], capsys)
    assert code == 2 and err.count("\n") == 1
    assert "sft.jsonl: no training example is left after --calls-per-example 2" in err and not out.exists()
    chat = tmp_path / "chat.jsonl"
    chat.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": "hello"}]}) + "\n")
    code, _, err = run_cli(["train", "citi", "--model", str(checkpoint), "--data", str(sft), "--eval-data", str(chat),
                            "--out", str(out)], capsys)
    assert code == 2 and "chat.jsonl: the held-out examples have no assistant turn with tool_calls" in err
    code, _, err = run_cli(["train", "citi", "--model", str(checkpoint), "--data", str(sft), "--alpha", "0",
                            "--out", str(out)], capsys)
    assert code == 2 and err.startswith("error: --alpha: ") and not out.exists()


def test_train_citi_rerun_with_other_options_is_refused_naming_them(checkpoint, sft, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    args = ["train", "citi", "--model", str(checkpoint), "--data", str(sft), "--eval-size", "2", "--out", str(out),
            "--method", "base", "--max-new-tokens", "2", "--cloze-items", "1", "--retention-windows", "1"]
    code, _, err = run_cli(args, capsys)
    assert code == 0, err
    result = (out / "base" / "result.json").read_bytes()
    settings = (out / "settings.json").read_bytes()
    code, _, err = run_cli(args + ["--seed", "1", "--cloze-items", "2"], capsys)
    assert code == 2 and err.count("\n") == 1 and "cloze_items: 1 -> 2" in err and "seed: 0 -> 1" in err
    assert (out / "base" / "result.json").read_bytes() == result and (out / "settings.json").read_bytes() == settings
    code, _, err = run_cli(args + ["--seed", "1", "--overwrite"], capsys)
    assert code == 0, err
    assert json.loads((out / "settings.json").read_text())["training"]["train"]["seed"] == 1
