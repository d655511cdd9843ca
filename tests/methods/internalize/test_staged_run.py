"""A whole SKIntern experiment on a tiny in-memory student: stages run in order, adapters saved, table written."""

import json

import pytest

from tests.methods.internalize.conftest import make_tiny_llama
from tooltune.methods.internalize.config import InternalizeConfig
from tooltune.methods.internalize.experiment import run_task_experiment


@pytest.mark.slow
def test_tiny_experiment_end_to_end(tmp_path, tiny_tokenizer):
    import torch
    from safetensors.torch import load_file

    def load_student():
        return make_tiny_llama(tiny_tokenizer), tiny_tokenizer

    config = InternalizeConfig(output_dir=str(tmp_path), n_train=6, n_test=3, rules=2, stages=3, examples=2,
                               total_epochs=3, retriever="bm25", compressor="surprisal", lora_r=4, lora_alpha=8,
                               batch_size=4, max_new_tokens=6, eval_batch_size=3)
    lines = []
    report = run_task_experiment(config, load_student, log=lines.append)

    schedule = next(line for line in lines if line.startswith("SKIntern schedule"))
    assert "T=3, K=2" in schedule and "(question only)" in schedule.splitlines()[-1]
    names = [r["approach"] for r in report["results"]]
    assert names == ["knowledge+few-shot prompting", "question only (no training)", "SKIntern internalized", "Std-CoT distillation"]
    tokens = {r["approach"]: r["mean_prompt_tokens"] for r in report["results"]}
    assert tokens["knowledge+few-shot prompting"] > tokens["SKIntern internalized"] == tokens["Std-CoT distillation"]
    for r in report["results"]:
        assert r["total"] == 3 and r["prompt_gflops"] == pytest.approx(2 * r["parameters"] * r["mean_prompt_tokens"] / 1e9)

    stage_dirs = sorted(p for p in (tmp_path / "skintern").iterdir() if p.is_dir() and p.name[:2].isdigit())
    assert [p.name for p in stage_dirs] == ["00-S0-1.00", "01-S1-0.50", "02-S2-0.00"]
    weights = [load_file(str(p / "stage_weights.safetensors")) for p in stage_dirs]
    some = next(k for k in weights[0] if "lora_B" in k)
    assert not torch.equal(weights[0][some], weights[1][some]) and not torch.equal(weights[1][some], weights[2][some])
    for stage in ("skintern", "std_cot"):
        adapter = tmp_path / stage / "adapter"
        assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
        assert set(json.loads((adapter / "adapter_config.json").read_text())["target_modules"]) >= {"q_proj", "down_proj"}

    samples = json.loads((tmp_path / "stage_samples.json").read_text())
    assert "Knowledge:" in samples[0][1]["content"] and samples[-1][1]["content"].startswith("Question: ")
    assert (tmp_path / "table.txt").read_text().count("\n") == 6


def test_tiny_staged_run_each_stage_from_the_previous(tmp_path, tiny_model, tiny_tokenizer):
    import torch
    from safetensors.torch import load_file

    from tooltune.adapters import load_adapter
    from tooltune.methods.internalize.compress import SurprisalCompressor
    from tooltune.methods.internalize.curriculum import TaughtSet, neighbours, skintern_stages
    from tooltune.methods.internalize.retrieve import BM25Retriever
    from tooltune.methods.internalize.schedule import DecaySchedule
    from tooltune.methods.internalize.tasks import unit_word_problems
    from tooltune.methods.internalize.teacher import DeterministicTeacher, teach_all
    from tooltune.methods.internalize.config import StudentTraining
    from tooltune.methods.internalize.method import add_lora, train_curriculum

    items = unit_word_problems(4, seed=9)
    taught = TaughtSet.from_teachings(items, teach_all(DeterministicTeacher(1), items))
    shots = neighbours(taught.items, taught, BM25Retriever([i.question for i in taught.items]), 1)
    schedule = DecaySchedule(stages=2, examples=1, total_epochs=2)
    datasets = skintern_stages(taught, shots, schedule, SurprisalCompressor(tiny_model, tiny_tokenizer))
    knobs = StudentTraining(lora_r=4, lora_alpha=8, learning_rate=1e-2, batch_size=4, max_length=256)
    wrapped = add_lora(tiny_model, knobs)
    assert len(wrapped) == 2 * 7  # every attention and MLP linear of both layers
    results = train_curriculum(tiny_model, tiny_tokenizer, datasets, [1, 1], knobs, tmp_path, names=["full", "bare"])
    assert [r.name for r in results] == ["full", "bare"] and all(r.global_step == 1 for r in results)

    first = load_file(str(tmp_path / "00-full" / "stage_weights.safetensors"))
    second = load_file(str(tmp_path / "01-bare" / "stage_weights.safetensors"))
    name = next(k for k in first if "lora_B" in k)
    assert first[name].abs().sum() > 0 and not torch.equal(first[name], second[name])
    final = {n: p.detach() for n, p in tiny_model.named_parameters() if n in second}
    assert all(torch.equal(final[n], second[n]) for n in second)

    from transformers import LlamaForCausalLM

    reloaded = LlamaForCausalLM(tiny_model.config)
    load_adapter(reloaded, tmp_path / "adapter")
    params = dict(reloaded.named_parameters())
    assert torch.equal(params[name], second[name])
