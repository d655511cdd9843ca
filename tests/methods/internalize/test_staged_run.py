"""A whole SKIntern experiment on a tiny in-memory student: stages run in order, adapters saved, table written."""

import json

import pytest

from tests.methods.internalize.conftest import make_tiny_llama
from tooltune.adapters import TARGET_MODULES
from tooltune.methods.internalize.config import InternalizeConfig
from tooltune.methods.internalize.experiment import APPROACHES, run_task_experiment
from tooltune.methods.internalize.progress import Event


def tiny_config(tmp_path, **overrides) -> InternalizeConfig:
    """A task experiment sized for a 2-layer student: 6 questions, 3 stages, 3 epochs in all."""
    fields = dict(n_train=6, n_test=3, rules=2, stages=3, examples=2, retriever="bm25", compressor="surprisal",
                  lora={"r": 4, "alpha": 8}, max_new_tokens=6, eval_batch_size=3)
    return InternalizeConfig(train={"output_dir": str(tmp_path), "epochs": 3, "batch_size": 4}, **{**fields, **overrides})


def test_tiny_experiment_end_to_end(tmp_path, tiny_tokenizer):
    """The whole staged run in the default suite: stages in order, each from the last, adapters, report."""
    import torch
    from safetensors.torch import load_file

    events: list[Event] = []
    report = run_task_experiment(tiny_config(tmp_path), lambda: (make_tiny_llama(tiny_tokenizer), tiny_tokenizer),
                                 events.append)

    kinds = [e.kind for e in events]
    assert kinds[:4] == ["quick", "teacher", "schedule", "setup"] and kinds[-1] == "table"
    assert "epochs (E) 3 < paper 12" in events[0].message  # a quick run says so
    schedule = next(e for e in events if e.kind == "schedule")
    assert "T=3, K=2" in schedule.message and "(question only)" in schedule.message.splitlines()[-1]
    evaluated = [e.data for e in events if e.kind == "evaluated"]
    assert [r["approach"] for r in evaluated] == [r["approach"] for r in report["results"]] == list(APPROACHES)
    tokens = {r["approach"]: r["mean_prompt_tokens"] for r in report["results"]}
    assert tokens[APPROACHES[0]] > tokens[APPROACHES[2]] == tokens[APPROACHES[3]] == tokens[APPROACHES[1]]
    for r in report["results"]:
        assert r["total"] == 3 and r["prompt_gflops"] == pytest.approx(2 * r["parameters"] * r["mean_prompt_tokens"] / 1e9)

    stage_dirs = sorted(p for p in (tmp_path / "skintern").iterdir() if p.is_dir() and p.name[:2].isdigit())
    assert [p.name for p in stage_dirs] == ["00-S0-1.00", "01-S1-0.50", "02-S2-0.00"]
    weights = [load_file(str(p / "stage_weights.safetensors")) for p in stage_dirs]
    some = next(k for k in weights[0] if "lora_B" in k)
    assert not torch.equal(weights[0][some], weights[1][some]) and not torch.equal(weights[1][some], weights[2][some])
    for stage in ("skintern", "std_cot"):
        adapter = json.loads((tmp_path / stage / "adapter" / "adapter_config.json").read_text())
        assert set(adapter["target_modules"]) == set(TARGET_MODULES) and adapter["r"] == 4

    samples = json.loads((tmp_path / "stage_samples.json").read_text())
    assert "Knowledge:" in samples[0][1]["content"] and samples[-1][1]["content"].startswith("Question: ")
    assert (tmp_path / "table.txt").read_text().count("\n") == 6


@pytest.mark.parametrize("kind", ["surprisal", "llmlingua"])
def test_the_compressor_the_config_names_is_the_one_used(tmp_path, tiny_tokenizer, monkeypatch, kind):
    """Each name picks its own compressor class, whatever else is installed; a stand-in LLMLingua (its model
    is not on this machine) records that it compressed the stages' knowledge."""
    from tooltune.methods.internalize import compress

    used = []

    class StandIn(compress.LLMLinguaCompressor):
        def __init__(self, tokenizer, model_path):
            self.tokenizer = tokenizer

        def compress(self, text, budget):
            used.append(budget)
            return tiny_tokenizer.decode(tiny_tokenizer(text, add_special_tokens=False)["input_ids"][:budget])

    monkeypatch.setattr(compress, "llmlingua_model_path", lambda: str(tmp_path))  # installed, for both runs
    monkeypatch.setattr(compress, "LLMLinguaCompressor", StandIn)
    events: list[Event] = []
    train_students = "tooltune.methods.internalize.experiment.train_students"
    monkeypatch.setattr(train_students, lambda *args: None)  # the compressor's part ends before training
    run_task_experiment(tiny_config(tmp_path, compressor=kind), lambda: (make_tiny_llama(tiny_tokenizer), tiny_tokenizer),
                        events.append)
    setup = next(e for e in events if e.kind == "setup")
    assert setup.data["compressor"] == {"surprisal": "surprisal", "llmlingua": "llmlingua2"}[kind]
    assert (len(used) > 0) == (kind == "llmlingua")


def test_tiny_staged_run_each_stage_from_the_previous(tmp_path, tiny_model, tiny_tokenizer):
    import torch
    from safetensors.torch import load_file

    from tooltune.adapters import LoRAConfig, load_adapter
    from tooltune.methods.internalize.compress import SurprisalCompressor
    from tooltune.methods.internalize.curriculum import (
        TaughtSet,
        neighbours,
        skintern_stages,
    )
    from tooltune.methods.internalize.method import add_lora, train_curriculum
    from tooltune.methods.internalize.retrieve import BM25Retriever
    from tooltune.methods.internalize.schedule import DecaySchedule
    from tooltune.methods.internalize.tasks import unit_word_problems
    from tooltune.methods.internalize.teacher import DeterministicTeacher, teach_all
    from tooltune.train import TrainConfig

    items = unit_word_problems(4, seed=9)
    taught = TaughtSet.from_teachings(items, teach_all(DeterministicTeacher(1), items))
    shots = neighbours(taught.items, taught, BM25Retriever([i.question for i in taught.items]), 1)
    schedule = DecaySchedule(stages=2, examples=1, total_epochs=2)
    datasets = skintern_stages(taught, shots, schedule, SurprisalCompressor(tiny_model, tiny_tokenizer))
    wrapped = add_lora(tiny_model, LoRAConfig(target_modules=list(TARGET_MODULES), r=4, alpha=8))
    assert len(wrapped) == 2 * 7  # every attention and MLP linear of both layers
    train = TrainConfig(output_dir=str(tmp_path), learning_rate=1e-2, batch_size=4, max_length=256)
    results = train_curriculum(tiny_model, tiny_tokenizer, datasets, [1, 1], train, names=["full", "bare"])
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


def test_a_model_teachers_rationales_and_chosen_knowledge_reach_the_stages(tmp_path, tiny_tokenizer, monkeypatch):
    """`--teacher SPEC` loads a chat model through the registry; its correct rationales become the targets and
    the knowledge candidate closest to question + rationale becomes the stages' knowledge."""
    from tooltune.methods.internalize.tasks import DEFAULT_RULES, split_problems
    from tooltune.models.scripted import ScriptedModel
    from tooltune.models.types import AssistantMessage

    train, _ = split_problems(6, 3, seed=0, rules=DEFAULT_RULES[:2])
    by_question = {i.question: i for i in train}

    def reply(messages, tools):
        prompt = messages[-1]["content"]
        item = next((i for q, i in by_question.items() if q in prompt), None)
        if prompt.startswith("Solve"):
            return AssistantMessage(content=f"Worked out. Answer: {item.answer}" if item else "Answer: 0")
        if item is None:  # a held-out question's knowledge
            return AssistantMessage(content="Learning summary: 1. convert.")
        return AssistantMessage(content=next(candidates[item.id]))

    candidates = {i.id: iter(["Learning summary: 1. Sing loudly.", f"Learning summary: 1. {i.question} Worked out.",
                              "Supplementary knowledge: the sky is blue."]) for i in train}
    monkeypatch.setattr("tooltune.models.registry.load_model", lambda spec, **kwargs: ScriptedModel(reply))
    monkeypatch.setattr("tooltune.methods.internalize.experiment.train_students", lambda *args: None)
    events: list[Event] = []
    run_task_experiment(tiny_config(tmp_path, teacher="chat-teacher"),
                        lambda: (make_tiny_llama(tiny_tokenizer), tiny_tokenizer), events.append)
    teacher = next(e for e in events if e.kind == "teacher").data
    assert teacher == {"teacher": "chat:scripted", "kept": 12, "dropped": 0, "usable": 6}
    first = json.loads((tmp_path / "stage_samples.json").read_text())[0]
    assert first[2]["content"] == "Worked out. Answer: " + next(i.answer for i in train if i.question in first[1]["content"])
    assert "Worked out" in first[1]["content"].split("Knowledge:\n", 1)[1].split("\n\n", 1)[0]  # the closest candidate
