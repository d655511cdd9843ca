"""CITI: the plan from importance scores, and the three-stage training on a tiny model."""

from __future__ import annotations

import json

import pytest
import torch

from tests.train.tiny import tiny_llama, tiny_tokenizer
from tooltune.adapters import MoLoRALinear, load_adapter
from tooltune.methods.citi.config import CITISettings
from tooltune.methods.citi.method import plan_citi, train_citi
from tooltune.methods.citi.importance import ImportanceScores
from tooltune.train import TrainConfig

KINDS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def _name(layer: int, kind: str) -> str:
    group = "mlp" if kind in ("gate_proj", "up_proj", "down_proj") else "self_attn"
    return f"model.layers.{layer}.{group}.{kind}"


def test_plan_takes_top_tool_components_and_least_general_down_proj() -> None:
    names = [_name(layer, kind) for layer in range(10) for kind in KINDS]  # 70 components
    tool = ImportanceScores("tool", {n: float(i) for i, n in enumerate(names)})  # later = more important
    general = ImportanceScores("general", {n: float(len(names) - i) for i, n in enumerate(names)})
    plan = plan_citi(tool, general, top_fraction=0.2, full_fraction=0.2)
    assert plan.molora_modules == sorted(names[-14:], key=names.index)
    # least important for general = the latest layers' down_proj, but layers 8-9 already hold MoLoRA
    assert plan.full_tune_modules == [_name(6, "down_proj"), _name(7, "down_proj")]
    assert set(plan.frozen_modules) == set(names) - set(plan.molora_modules) - set(plan.full_tune_modules)
    with pytest.raises(ValueError, match="different components"):
        plan_citi(tool, ImportanceScores("general", {names[0]: 1.0}))


EXAMPLES = [{"messages": [{"role": "user", "content": f"weather in {c}"},
                          {"role": "assistant", "content": f"the weather in {c} is ok"}]}
            for c in ("paris", "berlin", "rome", "paris")]


def test_train_citi_stages_touch_only_their_components(tmp_path) -> None:
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    settings = CITISettings(num_experts=2, r=2, alpha=4.0, top_fraction=0.25, full_fraction=0.5,
                            stage_epochs=(1, 1, 1), stage_learning_rates=(1e-2, 1e-2, 1e-3), importance_batches=2)
    config = TrainConfig(output_dir=str(tmp_path), batch_size=2, max_length=64, disable_tqdm=True)
    result = train_citi(model, tok, EXAMPLES, config, settings)
    plan = result.plan
    assert len(plan.molora_modules) == 4 and len(plan.full_tune_modules) == 1
    assert [s.name for s in result.stages] == ["molora", "molora-continue", "full-components"]
    for name in plan.molora_modules:
        assert isinstance(model.get_submodule(name), MoLoRALinear)
    params = dict(model.named_parameters())
    for name, value in before.items():
        module = name.rsplit(".", 1)[0]
        wrapped = name.replace(module, module + ".base") if module in plan.molora_modules else name
        if module in plan.full_tune_modules:
            assert not torch.equal(params[name], value), f"{name} should have been tuned"
        else:
            assert torch.equal(params[wrapped], value), f"{name} should be frozen"
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert saved["full_tune_modules"] == plan.full_tune_modules

    ids = torch.randint(0, len(tok), (1, 12))
    fresh = tiny_llama(len(tok))
    load_adapter(fresh, result.adapter_dir)
    assert torch.equal(fresh(ids).logits, model(ids).logits)


def test_comparison_gives_citi_the_same_adapter_epochs_and_prepares_rows() -> None:
    from tests.train.tiny import tool_example
    from tooltune.methods.citi.config import CompareSettings
    from tooltune.methods.citi.experiment import citi_settings_for, prepare_examples, results_table

    scaled = citi_settings_for(CompareSettings(epochs=1.5))
    assert scaled.stage_epochs == (0.5, 1.0, 0.5)  # MoLoRA stages sum to the baselines' epochs
    rows = [tool_example(c) for c in ("paris", "berlin", "rome", "oslo")] + [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]
    cut = prepare_examples(rows, calls_per_example=1)
    assert len(cut) == 4 and all(len(r["messages"]) == 3 for r in cut)
    subset = prepare_examples(rows, limit=2, seed=1)
    assert subset == prepare_examples(rows, limit=2, seed=1) and len(subset) == 2
    table = results_table([{"method": "lora", "exact_accuracy": 0.5, "name_accuracy": 1.0, "no_call_rate": 0.0,
                            "general_perplexity": 12.345, "cloze_accuracy": 0.75, "trainable_parameters": 1234,
                            "train_seconds": 9.6, "positions": 4, "cloze_items": 8}])
    assert "| lora | 0.500 | 1.000 | 0.000 | 12.35 | 0.750 | 1,234 | 10 |" in table


def test_the_seed_makes_lora_training_reproducible(tmp_path) -> None:
    from tooltune.adapters import adapter_parameters
    from tooltune.methods.citi.config import CompareSettings
    from tooltune.methods.citi.experiment import train_method

    settings = CompareSettings(epochs=1, lora_r=2, batch_size=2, max_length=64, seed=3)
    trained = []
    for run, noise in enumerate((1, 2)):
        tok = tiny_tokenizer()
        model = tiny_llama(len(tok))
        torch.rand(noise)  # other work drew random numbers before this run (e.g. an earlier method)
        train_method("lora", model, tok, EXAMPLES, tmp_path / str(run), settings)
        trained.append({n: p.detach().clone() for n, p in adapter_parameters(model).items()})
    assert all(torch.equal(trained[0][n], trained[1][n]) for n in trained[0])


def _compare(out, methods=("base",), **changes):
    from tests.train.tiny import tool_example
    from tooltune.methods.citi.config import CompareSettings
    from tooltune.methods.citi.experiment import compare_methods

    tok = tiny_tokenizer()
    settings = CompareSettings(**{"epochs": 1, "lora_r": 2, "batch_size": 2, "max_length": 128,
                                  "eval_max_new_tokens": 2, "retention_windows": 1, "retention_window": 16,
                                  "cloze_items": 1, **changes.pop("settings", {})})
    held_out = [tool_example("rome")]
    return compare_methods(list(methods), lambda: (tiny_llama(len(tok)), tok), EXAMPLES, held_out, out, settings,
                           model="tiny", **changes)


def test_a_rerun_with_other_settings_is_refused_and_keeps_the_cached_results(tmp_path) -> None:
    from tooltune.train.settings import RunDirError

    rows = _compare(tmp_path)
    cached = {p: p.read_bytes() for p in [tmp_path / "settings.json", tmp_path / "base" / "result.json"]}
    with pytest.raises(RunDirError, match=r"lora_r: 2 -> 4.*seed: 0 -> 1"):
        _compare(tmp_path, settings={"lora_r": 4, "seed": 1})
    assert {p: p.read_bytes() for p in cached} == cached
    assert _compare(tmp_path) == rows  # the same settings resume: the cached row comes back
    fresh = _compare(tmp_path, settings={"lora_r": 4}, overwrite=True)
    assert fresh[0]["method"] == "base" and json.loads((tmp_path / "settings.json").read_text())["lora_r"] == 4


def test_a_damaged_result_counts_as_missing(tmp_path) -> None:
    rows = _compare(tmp_path)
    (tmp_path / "base" / "result.json").write_text('{"method": "ba')
    again = _compare(tmp_path)
    assert [{k: r[k] for k in ("method", "exact_accuracy")} for r in again] == \
        [{k: r[k] for k in ("method", "exact_accuracy")} for r in rows]
