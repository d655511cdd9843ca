from tooltune.methods.internalize.compress import SurprisalCompressor
from tooltune.methods.internalize.curriculum import (
    TaughtSet,
    knowledge_prompts,
    neighbours,
    question_prompts,
    skintern_stages,
    std_cot_dataset,
)
from tooltune.methods.internalize.retrieve import BM25Retriever
from tooltune.methods.internalize.schedule import DecaySchedule
from tooltune.methods.internalize.tasks import split_problems
from tooltune.methods.internalize.teacher import DeterministicTeacher, teach_all


def _taught(n=8):
    train, test = split_problems(n, 3, seed=5)
    teachings = teach_all(DeterministicTeacher(2), train)
    teachings[0].rationales = []  # a question whose rationales were all wrong is left out
    return TaughtSet.from_teachings(train, teachings), train, test


def test_taught_set_drops_questions_without_rationales():
    taught, train, _ = _taught()
    assert len(taught.items) == len(train) - 1 and train[0] not in taught.items


def test_stage_datasets_follow_the_schedule(tiny_model, tiny_tokenizer):
    taught, _, _ = _taught()
    shots = neighbours(taught.items, taught, BM25Retriever([i.question for i in taught.items]), 3)
    for item in taught.items:
        assert item.question not in [e.question for e in shots[item.id]] and len(shots[item.id]) == 3
    schedule = DecaySchedule(stages=4, examples=3)
    compressor = SurprisalCompressor(tiny_model, tiny_tokenizer)
    stages = skintern_stages(taught, shots, schedule, compressor, seed=1)
    assert len(stages) == 4 and all(len(s) == 2 * len(taught.items) for s in stages)
    mean_len = [sum(len(r["messages"][1]["content"]) for r in s) / len(s) for s in stages]
    assert mean_len == sorted(mean_len, reverse=True) and mean_len[0] > mean_len[-1]
    last = stages[-1]
    assert all(r["messages"][1]["content"] == "Question: " + next(i.question for i in taught.items if i.id == r["id"]) for r in last)
    assert all(r["messages"][2]["role"] == "assistant" and "Answer:" in r["messages"][2]["content"] for r in stages[0])
    assert "Knowledge:" in stages[0][0]["messages"][1]["content"] and "Knowledge:" not in last[0]["messages"][1]["content"]


def test_std_cot_and_inference_prompts_hold_no_knowledge():
    taught, _, test = _taught()
    assert all("Knowledge" not in r["messages"][1]["content"] for r in std_cot_dataset(taught))
    shots = neighbours(test, taught, BM25Retriever([i.question for i in taught.items]), 2)
    with_knowledge = knowledge_prompts(test, {i.id: i.knowledge for i in test}, shots)
    plain = question_prompts(test)
    assert all(len(k[1]["content"]) > len(p[1]["content"]) for k, p in zip(with_knowledge, plain))
    assert all(k[1]["content"].endswith(p[1]["content"]) for k, p in zip(with_knowledge, plain))
