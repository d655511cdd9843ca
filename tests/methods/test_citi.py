"""CITI: the plan from importance scores, what each stage trains, the router's separation, the comparison."""

from __future__ import annotations

import json

import pytest
import torch

from tests.train.tiny import tiny_llama, tiny_tokenizer, tool_example
from tooltune.adapters import TARGET_MODULES, MoLoRAConfig, load_adapter
from tooltune.methods.citi import method as citi_method
from tooltune.methods.citi.config import CITIConfig, CompareSettings, MethodTraining
from tooltune.methods.citi.importance import ImportanceScores
from tooltune.methods.citi.method import plan_citi, train_citi
from tooltune.methods.citi.metrics import expert_mass
from tooltune.train import TrainConfig


def _name(layer: int, kind: str) -> str:
    group = "mlp" if kind in ("gate_proj", "up_proj", "down_proj") else "self_attn"
    return f"model.layers.{layer}.{group}.{kind}"


def test_plan_takes_top_tool_components_and_least_general_down_proj() -> None:
    names = [_name(layer, kind) for layer in range(10) for kind in TARGET_MODULES]  # 70 components
    tool = ImportanceScores("tool", {n: float(i) for i, n in enumerate(names)})  # later = more important
    general = ImportanceScores("general", {n: float(len(names) - i) for i, n in enumerate(names)})
    plan = plan_citi(tool, general, top_fraction=0.2, full_fraction=0.2)
    assert plan.molora_modules == sorted(names[-14:], key=names.index)
    # least important for general = the latest layers' down_proj, but layers 8-9 already hold MoLoRA
    assert plan.full_tune_modules == [_name(6, "down_proj"), _name(7, "down_proj")]
    assert set(plan.frozen_modules) == set(names) - set(plan.molora_modules) - set(plan.full_tune_modules)
    with pytest.raises(ValueError, match="different components"):
        plan_citi(tool, ImportanceScores("general", {names[0]: 1.0}))


TOOL = [tool_example(c) for c in ("paris", "berlin", "rome", "paris", "berlin", "rome")]
GENERAL = {"chat": [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
                    for q, a in (("hello", "hi"), ("what is jazz", "jazz is a genre of music"), ("hi", "hello"),
                                 ("what is rock", "rock is a genre"), ("please play music", "ok"),
                                 ("hello you", "hi you"))]}


def _citi(routing_weight: float = 1.0, stage_epochs=(1, 1, 1)) -> CITIConfig:
    molora = MoLoRAConfig(target_modules=list(TARGET_MODULES), num_experts=2, r=2, alpha=4.0,
                          routing_weight=routing_weight, contrast=0.5)
    return CITIConfig(molora=molora, top_fraction=0.25, full_fraction=0.5, stage_epochs=stage_epochs,
                      full_learning_rate=1e-3, importance={"batches": 2, "max_length": 512})


def _config(tmp_path, lr: float = 1e-2) -> TrainConfig:
    return TrainConfig(output_dir=str(tmp_path), batch_size=4, max_length=512, learning_rate=lr, seed=0,
                       lr_scheduler="cosine", warmup_ratio=0.1, disable_tqdm=True)


def _snapshot(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def test_each_stage_changes_exactly_its_parameters(tmp_path, monkeypatch) -> None:
    """Router alone, then router + experts, then the fully tuned down_proj alone; everything else stays
    bit-identical through every stage (base weights included)."""
    changed: dict[str, set[str]] = {}
    real = citi_method.train_stages

    def stage_by_stage(model, tokenizer, stages, config):
        results = []
        for index, stage in enumerate(stages):
            before = _snapshot(model)
            results += real(model, tokenizer, [stage], config.model_copy(update={"output_dir": f"{config.output_dir}/{index}"}))
            after = _snapshot(model)
            changed[stage.name] = {n for n in after if not torch.equal(after[n], before[n])}
        return results

    monkeypatch.setattr(citi_method, "train_stages", stage_by_stage)
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok))
    original = _snapshot(model)
    result = train_citi(model, tok, TOOL, _config(tmp_path), _citi(), GENERAL)
    plan = result.plan
    assert len(plan.molora_modules) == 4 and len(plan.full_tune_modules) == 1
    assert list(changed) == ["router", "molora", "full-components"]
    routers = {f"{m}.router.weight" for m in plan.molora_modules}
    experts = routers | {f"{m}.lora_{ab}" for m in plan.molora_modules for ab in "AB"}
    assert changed["router"] == routers
    assert changed["molora"] == experts
    assert changed["full-components"] == {f"{m}.weight" for m in plan.full_tune_modules}
    params = dict(model.named_parameters())
    for name, value in original.items():  # base weights of wrapped modules are under .base and never change
        module = name.rsplit(".", 1)[0]
        now = params[name.replace(module, module + ".base")] if module in plan.molora_modules else params[name]
        assert torch.equal(now, value) or module in plan.full_tune_modules, name
    assert json.loads((tmp_path / "plan.json").read_text())["full_tune_modules"] == plan.full_tune_modules
    ids = torch.randint(0, len(tok), (1, 12))
    fresh = tiny_llama(len(tok))
    load_adapter(fresh, result.adapter_dir)
    assert torch.equal(fresh(ids).logits, model(ids).logits)


def _expert_gap(tmp_path, routing_weight: float) -> float:
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok))
    train_citi(model, tok, TOOL, _config(tmp_path, lr=5e-2), _citi(routing_weight, stage_epochs=(4, 0, 0)), GENERAL)
    tool = sum(expert_mass(model, tok, TOOL)) / len(TOOL)
    general = sum(expert_mass(model, tok, GENERAL["chat"])) / len(GENERAL["chat"])
    return tool - general


def test_after_stage_one_tool_input_puts_more_router_mass_on_the_experts(tmp_path) -> None:
    """The routing loss alone moves the routers in stage 1 (the experts' B is still zero): tool input then
    puts more mass on the experts than general input does, by far more than the same run without the loss."""
    trained = _expert_gap(tmp_path / "loss", routing_weight=1.0)
    control = _expert_gap(tmp_path / "none", routing_weight=0.0)
    assert trained > 0.05 and trained > control + 0.05, (trained, control)


def test_comparison_gives_citi_the_same_adapter_epochs_and_prepares_rows() -> None:
    from tooltune.methods.citi.experiment import prepare_examples, results_table
    from tooltune.methods.citi.training import citi_for

    training = MethodTraining(train=TrainConfig(output_dir=".", epochs=1.5, max_length=300))
    scaled = citi_for(training)
    assert scaled.stage_epochs == (0.5, 1.0, 0.5)  # MoLoRA stages sum to the baselines' epochs
    assert scaled.importance.max_length == 300
    rows = [tool_example(c) for c in ("paris", "berlin", "rome", "oslo")] + [
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]
    cut = prepare_examples(rows, calls_per_example=1)
    assert len(cut) == 4 and all(len(r["messages"]) == 3 for r in cut)
    subset = prepare_examples(rows, limit=2, seed=1)
    assert subset == prepare_examples(rows, limit=2, seed=1) and len(subset) == 2
    table = results_table([{"method": "lora", "exact_accuracy": 0.5, "exact_accuracy_se": 0.25, "name_accuracy": 1.0,
                            "no_call_rate": 0.0, "general_perplexity": 12.345, "general_perplexity_se": 0.5,
                            "cloze_accuracy": 0.75, "cloze_accuracy_se": 0.1, "task_accuracy": None,
                            "trainable_parameters": 1234, "train_seconds": 9.6, "positions": 4, "cloze_items": 8}])
    assert "| lora | 0.500 ± 0.250 | 1.000 | 0.000 | 12.35 ± 0.50 | 0.750 ± 0.100 | n/a | 1,234 | 10 |" in table


def test_the_seed_makes_lora_training_reproducible(tmp_path) -> None:
    from tooltune.adapters import adapter_parameters
    from tooltune.methods.citi.training import train_method

    training = MethodTraining(train=TrainConfig(output_dir=".", epochs=1, batch_size=2, max_length=64, seed=3),
                              lora={"target_modules": list(TARGET_MODULES), "r": 2})
    trained = []
    for run, noise in enumerate((1, 2)):
        tok = tiny_tokenizer()
        model = tiny_llama(len(tok))
        torch.rand(noise)  # other work drew random numbers before this run (e.g. an earlier method)
        train_method("lora", model, tok, TOOL[:4], tmp_path / str(run), training, GENERAL)
        trained.append({n: p.detach().clone() for n, p in adapter_parameters(model).items()})
    assert all(torch.equal(trained[0][n], trained[1][n]) for n in trained[0])


def _compare(out, methods=("base",), **changes):
    from tooltune.methods.citi.experiment import compare_methods

    tok = tiny_tokenizer()
    training = {"train": {"output_dir": ".", "epochs": 1, "batch_size": 2,
                          "max_length": changes.pop("max_length", 128), "seed": changes.pop("seed", 0)},
                "lora": {"target_modules": list(TARGET_MODULES), "r": changes.pop("lora_r", 2)}}
    settings = CompareSettings(training=training, general={"replay": False}, eval_max_new_tokens=2,
                               retention_windows=2, retention_window=16, cloze_items=2)
    return compare_methods(list(methods), lambda: (tiny_llama(len(tok)), tok), TOOL[:4], [tool_example("rome")],
                           out, settings, model="tiny", **changes).rows


def test_a_rerun_with_other_settings_is_refused_and_keeps_the_cached_results(tmp_path) -> None:
    from tooltune.train.settings import RunDirError

    rows = _compare(tmp_path)
    cached = {p: p.read_bytes() for p in [tmp_path / "settings.json", tmp_path / "base" / "result.json"]}
    with pytest.raises(RunDirError, match=r"training.train.seed: 0 -> 1.*training.lora.r: 2 -> 4"):
        _compare(tmp_path, lora_r=4, seed=1)
    assert {p: p.read_bytes() for p in cached} == cached
    assert _compare(tmp_path) == rows  # the same settings resume: the cached row comes back
    fresh = _compare(tmp_path, lora_r=4, overwrite=True)
    assert fresh[0]["method"] == "base"
    assert json.loads((tmp_path / "settings.json").read_text())["training"]["lora"]["r"] == 4


def test_a_damaged_result_counts_as_missing(tmp_path) -> None:
    rows = _compare(tmp_path)
    (tmp_path / "base" / "result.json").write_text('{"method": "ba')
    again = _compare(tmp_path)
    assert [{k: r[k] for k in ("method", "exact_accuracy")} for r in again] == \
        [{k: r[k] for k in ("method", "exact_accuracy")} for r in rows]


def test_a_method_resumed_after_scoring_was_cut_reports_its_whole_training_time(tmp_path) -> None:
    def kept() -> float:
        return json.loads((tmp_path / "lora" / "train_seconds.json").read_text())["seconds"]

    (first,) = _compare(tmp_path, methods=("lora",), max_length=8192)
    trained = kept()
    (tmp_path / "lora" / "result.json").unlink()  # as if scoring had been interrupted: training replays
    (again,) = _compare(tmp_path, methods=("lora",), max_length=8192)
    assert first["train_seconds"] == round(trained, 1) and trained > 0
    assert kept() > trained and again["train_seconds"] == round(kept(), 1) >= first["train_seconds"]
