"""`tooltune train continual` end to end on a tiny checkpoint saved to disk."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.methods.test_continual import task
from tests.train.run_cli import run_cli
from tests.train.tiny import tiny_llama, tiny_tokenizer
from tooltune.cli import app


def test_cli_compares_methods_and_prints_metrics(tmp_path) -> None:
    tokenizer = tiny_tokenizer(extra_words=["please"])
    checkpoint = tmp_path / "tiny"
    tiny_llama(vocab_size=len(tokenizer)).save_pretrained(checkpoint)
    tokenizer.save_pretrained(checkpoint)
    files = []
    for name in ("get_weather", "set_volume"):
        t = task(name)
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(ex) + "\n" for ex in t.train + t.test))
        files.append(str(path))
    result = CliRunner().invoke(app, [
        "train", "continual", "--model", str(checkpoint), "--tasks", ",".join(files), "--method", "data,multitask",
        "--test-size", "2", "--batch-size", "4", "--lr", "5e-3", "--max-length", "256", "--scorer", "tool-call", "--max-new-tokens", "6",
        "--target-modules", "q_proj,v_proj", "--output-dir", str(tmp_path / "run"), "--json", str(tmp_path / "r.json"),
    ])
    assert result.exit_code == 0, result.output
    assert "| data |" in result.output and "| multitask |" in result.output and "BWT" in result.output
    saved = json.loads((tmp_path / "r.json").read_text())
    assert saved["scorer"] == "tool-call"
    assert [r["method"] for r in saved["results"]] == ["data", "multitask"]
    assert len(saved["results"][0]["matrix"]) == 2 and saved["results"][0]["metrics"]["bwt"] is not None


def test_cli_rejects_unknown_method_and_missing_file(tmp_path, capsys) -> None:
    code, _, err = run_cli(["train", "continual", "--tasks", "a.jsonl", "--method", "ewc"], capsys)
    assert code == 2 and err.startswith("error: --method") and "ewc" in err
    code, _, err = run_cli(["train", "continual", "--tasks", str(tmp_path / "nope.jsonl")], capsys)
    assert code == 2 and err.startswith("error: --tasks") and "nope.jsonl" in err


def test_cli_reports_bad_task_files_and_options_in_one_line(tmp_path, capsys) -> None:
    good = tmp_path / "weather.jsonl"
    t = task("get_weather")
    good.write_text("".join(json.dumps(ex) + "\n" for ex in t.train + t.test))
    broken = tmp_path / "broken.jsonl"
    broken.write_text(json.dumps(t.train[0]) + "\n" + '{"messages": [{"role": "user", "content": "hi"}]}\n')
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(b"\xff\xd8\xff\xe0 not text")
    out = tmp_path / "run"
    cases = [
        ([str(good), str(broken)], ["--test-size", "2"], "broken.jsonl:2: field 'messages' has no assistant turn"),
        ([str(garbage)], [], "garbage.jsonl:1: not UTF-8"),
        ([str(good)], [], "test_size: "),
        ([str(good)], ["--lr", "0"], "--lr: "),
        ([str(good)], ["--restoration-rate", "0.5", "--rank-low", "0"], "Invalid value for '--rank-low'"),
    ]
    for files, options, message in cases:
        code, _, err = run_cli(["train", "continual", "--tasks", ",".join(files), "--output-dir", str(out),
                                *options], capsys)
        assert code == 2 and message in err and "Traceback" not in err, (files, options, err)
        assert err.startswith("error: ") == (not message.startswith("Invalid")) and not out.exists()


def test_dry_run_prints_order_counts_and_one_prompt_per_task_without_a_model(tmp_path, capsys) -> None:
    from tests.methods.test_continual_cl_benchmark import write_instructions, write_task

    write_task(tmp_path, "TC", "agnews", ["World", "Sports"], 5)
    write_task(tmp_path, "SC", "yelp", ["negative", "positive"], 3)
    write_instructions(tmp_path, {"TC": "What is the topic?\n", "SC": "What is the sentiment?\n"})
    code, out, err = run_cli(["train", "continual", "--cl-benchmark", str(tmp_path), "--tasks", "yelp,agnews",
                              "--model", str(tmp_path / "no-such-model"), "--max-train", "4", "--test-size", "2",
                              "--dry-run"], capsys)
    assert code == 0, err
    assert "tasks in order: yelp -> agnews" in out
    assert "[0] yelp: train 3, test 2" in out and "[1] agnews: train 4, test 2" in out
    assert "user: What is the sentiment?\nOption: negative, positive\nyelp train text 0\nAnswer:" in out
    assert "assistant: World" in out
    assert not (tmp_path / "runs").exists()
