import random

import pytest

from tooltune.methods.internalize.compress import SurprisalCompressor, make_compressor
from tooltune.methods.internalize.prompts import Example, stage_prompt
from tooltune.methods.internalize.schedule import DecaySchedule
from tooltune.methods.internalize.tasks import unit_word_problems


def test_surprisal_matches_a_direct_forward_pass(tiny_model, tiny_tokenizer):
    import torch

    text = unit_word_problems(1)[0].knowledge
    ids, scores = SurprisalCompressor(tiny_model, tiny_tokenizer).surprisal(text)
    full = torch.tensor([[tiny_tokenizer.bos_token_id, *ids]])
    with torch.no_grad():
        logp = torch.log_softmax(tiny_model(full).logits[0, :-1].float(), -1)
    expected = [-logp[i, t].item() for i, t in enumerate(ids)]
    assert scores == pytest.approx(expected, abs=1e-4)


def test_compressor_keeps_the_budget_and_the_most_surprising_tokens(tiny_model, tiny_tokenizer):
    compressor = SurprisalCompressor(tiny_model, tiny_tokenizer)
    text = unit_word_problems(1)[0].knowledge
    n = compressor.count(text)
    assert compressor.compress(text, n) == text
    assert compressor.compress(text, 0) == ""
    for budget in (1, 5, n // 3, n // 2, n - 1):
        out = compressor.compress(text, budget)
        assert 0 < compressor.count(out) <= budget
    ids, scores = compressor.surprisal(text)
    top = max(range(len(ids)), key=lambda i: scores[i])
    assert tiny_tokenizer.decode([ids[top]]).strip() in compressor.compress(text, 1)
    with pytest.raises(ValueError, match="budget"):
        compressor.compress(text, -1)


def test_stage_prompts_keep_the_question_intact_and_decay_to_question_only(tiny_model, tiny_tokenizer):
    compressor = SurprisalCompressor(tiny_model, tiny_tokenizer)
    items = unit_word_problems(5, seed=4)
    target, shots = items[0], [Example(i.question, i.rationales[0]) for i in items[1:4]]
    n = compressor.count(target.knowledge)
    rng = random.Random(0)
    prompts = [stage_prompt(target.question, target.knowledge, shots, p, compressor, rng) for p in DecaySchedule().plans()]
    for plan, prompt in zip(DecaySchedule().plans(), prompts):
        assert prompt.endswith(f"Question: {target.question}")
        assert prompt.count("Question: ") == 1 + plan.num_examples
        if plan.keep_ratio > 0:
            knowledge = prompt.split("Knowledge:\n", 1)[1].split("\n\nExamples:", 1)[0].split("\n\nQuestion:", 1)[0]
            assert compressor.count(knowledge) <= plan.knowledge_budget(n)
    assert prompts[-1] == f"Question: {target.question}"
    assert [len(p) for p in prompts] == sorted((len(p) for p in prompts), reverse=True)


def test_make_compressor_falls_back_offline(tiny_model, tiny_tokenizer, monkeypatch):
    monkeypatch.setattr("tooltune.methods.internalize.compress.llmlingua_model_path", lambda: None)
    assert make_compressor("auto", tiny_model, tiny_tokenizer).name == "surprisal"
    assert make_compressor("surprisal", tiny_model, tiny_tokenizer).name == "surprisal"
    with pytest.raises(ValueError, match="compressor"):
        make_compressor("gzip", tiny_model, tiny_tokenizer)


def test_llmlingua_is_used_only_when_package_and_local_model_exist(tmp_path, monkeypatch, tiny_model, tiny_tokenizer):
    """A stand-in `llmlingua` module (its real model is not on this machine) checks the wiring and the budget trim."""
    import sys
    import types

    from tooltune.methods.internalize import compress

    monkeypatch.delitem(sys.modules, "llmlingua", raising=False)
    monkeypatch.setenv("TOOLTUNE_LLMLINGUA_MODEL", str(tmp_path / "missing"))
    assert compress.llmlingua_model_path() is None  # no package

    calls = []

    class PromptCompressor:
        def __init__(self, model_name, use_llmlingua2, device_map):
            calls.append((model_name, use_llmlingua2, device_map))

        def compress_prompt(self, texts, rate):
            words = texts[0].split()
            return {"compressed_prompt": " ".join(words[: max(1, int(len(words) * rate * 1.5))])}  # overshoots

    monkeypatch.setitem(sys.modules, "llmlingua", types.SimpleNamespace(PromptCompressor=PromptCompressor))
    assert compress.llmlingua_model_path() is None  # package but no model on disk: offline compressor
    assert compress.make_compressor("auto", tiny_model, tiny_tokenizer).name == "surprisal"
    with pytest.raises(RuntimeError, match="never downloads"):
        compress.make_compressor("llmlingua", tiny_model, tiny_tokenizer)

    monkeypatch.setenv("TOOLTUNE_LLMLINGUA_MODEL", str(tmp_path))
    chosen = compress.make_compressor("auto", tiny_model, tiny_tokenizer)
    assert chosen.name == "llmlingua2" and calls == [(str(tmp_path), True, "cpu")]
    text = unit_word_problems(1)[0].knowledge
    n = chosen.count(text)
    for budget in (3, n // 2):
        out = chosen.compress(text, budget)
        assert 0 < chosen.count(out) <= budget
    assert chosen.compress(text, n) == text and chosen.compress(text, 0) == ""
