"""CITI's comparison on the sandbox: the agent recipe's split (nothing held out is trained on, the same held-out
cases for every seed), the benchmark run per method on the held-out cases, and the summary over seeds."""

from __future__ import annotations

import json

import pytest

from tests.train.tiny import tiny_checkpoint, tiny_tokenizer
from tooltune.adapters import TARGET_MODULES
from tooltune.methods.citi.config import CompareSettings
from tooltune.methods.citi.experiment import (BENCH_NUMBERS, ROW_NUMBERS, compare_methods, complete_row,
                                              sandbox_comparison_data)
from tooltune.methods.citi.seeds import seed_summary, summary_table
from tooltune.models.registry import load_trainable


def _instruction(row: dict) -> str:
    return row["id"].split("@")[0]


def test_sandbox_rows_hold_out_the_recipes_instructions_and_keep_the_held_out_cases_across_seeds() -> None:
    train0, held0, ids0 = sandbox_comparison_data(max_train=12, max_eval=4, seed=0)
    train1, held1, ids1 = sandbox_comparison_data(max_train=12, max_eval=4, seed=1)
    assert len(train0) == len(train1) == 12 and len(ids0) == 4
    assert ids0 == ids1 and [r["id"] for r in held0] == [r["id"] for r in held1] == ids0
    assert [r["id"] for r in train0] != [r["id"] for r in train1]  # the seed draws the training rows
    full, _, _ = sandbox_comparison_data(seed=0)
    held_out = {i.split("@")[0] for i in ids0}
    assert held_out and not held_out & {_instruction(r) for r in full}


@pytest.fixture()
def checkpoint(tmp_path):
    return tiny_checkpoint(tmp_path / "tiny", max_position_embeddings=8192)


def test_every_method_is_benchmarked_on_the_held_out_cases_as_it_was_trained(checkpoint, tmp_path) -> None:
    train, held_out, ids = sandbox_comparison_data(calls_per_example=1, max_train=2, max_eval=2, seed=0)
    training = {"train": {"output_dir": ".", "epochs": 1, "batch_size": 2, "max_length": 8192, "max_steps": 1},
                "lora": {"target_modules": list(TARGET_MODULES), "r": 2}}
    settings = CompareSettings(training=training, general={"replay": False}, eval_max_new_tokens=2,
                               retention_windows=2, retention_window=16, cloze_items=2, task_items=0,
                               bench_cases=ids)
    out = tmp_path / "cmp"
    rows = compare_methods(["base", "lora", "full"], lambda: load_trainable(str(checkpoint)), train, held_out[:1],
                           out, settings, model=str(checkpoint)).rows
    configs = {m: json.loads((out / m / "bench" / "config.json").read_text()) for m in ("base", "lora", "full")}
    assert all(c["cases"] == ids for c in configs.values())
    assert configs["base"]["model"] == str(checkpoint) and configs["base"]["adapter"] is None
    assert configs["lora"]["adapter"] == str(out / "lora" / "adapter")
    assert configs["full"]["model"] == str(out / "full" / "model") and configs["full"]["adapter"] is None
    for row in rows:
        assert row["bench_cases"] == 2 and 0 <= row["bench_checks"] <= 1 and row["bench_checks_se"] >= 0
    assert "bench checks" in (out / "table.md").read_text()


def test_a_cached_row_is_whole_with_an_absent_benchmark_measure_but_not_without_its_checks() -> None:
    row = {"method": "lora", **{key: 0.5 for key in ROW_NUMBERS},
           **{f"bench_{key}": 0.5 for key in BENCH_NUMBERS}, "bench_checks_personal": None}
    assert complete_row(row, "lora", bench=True)
    assert not complete_row(row, "full", bench=True)
    assert not complete_row({**row, "bench_checks": None}, "lora", bench=True)
    assert not complete_row({k: v for k, v in row.items() if k != "bench_success"}, "lora", bench=True)
    assert complete_row({k: v for k, v in row.items() if not k.startswith("bench")}, "lora")


def test_a_comparison_without_its_models_spec_cannot_benchmark(tmp_path) -> None:
    from tests.train.tiny import tiny_llama, tool_example

    tok = tiny_tokenizer()
    settings = CompareSettings(training={"train": {"output_dir": ".", "max_length": 128}}, general={"replay": False},
                               eval_max_new_tokens=2, retention_windows=2, retention_window=16, cloze_items=2,
                               bench_cases=["x@y"])
    with pytest.raises(ValueError, match="bench_cases"):
        compare_methods(["base"], lambda: (tiny_llama(len(tok)), tok), [tool_example("rome")],
                        [tool_example("rome")], tmp_path, settings)


def _row(method: str, exact: float, ppl: float) -> dict:
    return {"method": method, "exact_accuracy": exact, "general_perplexity": ppl, "cloze_accuracy": 0.5}


def test_seed_summary_averages_over_seeds_and_pairs_differences_per_seed() -> None:
    summary = seed_summary({0: [_row("base", 0.0, 20.0), _row("lora", 0.4, 22.0), _row("citi", 0.3, 20.5)],
                            1: [_row("base", 0.0, 21.0), _row("lora", 0.2, 25.0), _row("citi", 0.3, 21.5)]})
    assert summary["seeds"] == [0, 1]
    lora = summary["means"]["lora"]["exact_accuracy"]
    assert lora["mean"] == pytest.approx(0.3) and lora["se"] == pytest.approx(0.1) and lora["values"] == [0.4, 0.2]
    citi_tools = summary["differences"]["citi - lora"]["exact_accuracy"]
    assert citi_tools["values"] == pytest.approx([-0.1, 0.1]) and citi_tools["mean"] == pytest.approx(0.0)
    citi_ppl = summary["differences"]["citi - base"]["general_perplexity"]
    assert citi_ppl["values"] == pytest.approx([0.5, 0.5]) and citi_ppl["se"] == pytest.approx(0.0)
    assert "bench_checks" not in summary["means"]["lora"]  # measured in no seed
    assert "lora - lora" not in summary["differences"] and "base - lora" in summary["differences"]
    table = summary_table(summary)
    assert "| citi - base |" in table and "+0.50 ± 0.00 (+0.50, +0.50)" in table
    assert "0.300 ± 0.100 (0.400, 0.200)" in table


@pytest.mark.parametrize("argv, option", [([], "--data / --sandbox"), (["--sandbox", "--data", "README.md"],
                                           "--data / --sandbox"), (["--data", "README.md", "--bench"], "--bench"),
                                          (["--sandbox", "--eval-data", "README.md"], "--eval-data"),
                                          (["--sandbox", "--seeds", "0,0"], "--seeds"),
                                          (["--sandbox", "--seeds", "1,-2"], "--seeds")])
def test_cli_refuses_a_bad_source_or_seed_list_before_anything_is_written(tmp_path, capsys, argv, option) -> None:
    from tooltune.cli import main

    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "citi", "--out", str(out), *argv])
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and error.startswith(f"error: {option}:") and "\n" not in error
    assert not out.exists()


def test_run_seeds_scores_base_once_and_trains_each_seed_into_its_own_directory(checkpoint, tmp_path) -> None:
    from tests.train.tiny import tool_example
    from tooltune.methods.citi.seeds import run_seeds

    def data_for(seed: int):
        training = {"train": {"output_dir": ".", "epochs": 1, "batch_size": 2, "max_length": 2048, "seed": seed},
                    "lora": {"target_modules": list(TARGET_MODULES), "r": 2}}
        settings = CompareSettings(training=training, general={"replay": False}, eval_max_new_tokens=2,
                                   retention_windows=2, retention_window=16, cloze_items=2, task_items=0)
        return [tool_example(c) for c in ("paris", "berlin", "rome", "paris")], [tool_example("rome")], settings

    out = tmp_path / "seeds"
    summary = run_seeds(["base", "lora"], str(checkpoint), [3, 5], data_for, out, log=lambda _: None)
    assert (out / "seed3" / "base" / "result.json").is_file() and not (out / "seed5" / "base").exists()
    assert json.loads((out / "seed5" / "settings.json").read_text())["training"]["train"]["seed"] == 5
    base = summary["means"]["base"]["general_perplexity"]
    assert base["values"][0] == base["values"][1] and base["se"] == 0
    lora = summary["means"]["lora"]["general_perplexity"]["values"]
    assert lora[0] != lora[1]  # two seeds, two trainings
    assert "lora - base" in summary["differences"] and (out / "summary.md").read_text() == summary_table(summary)
