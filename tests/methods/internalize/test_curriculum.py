import pytest

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
from tooltune.methods.internalize.tasks import DEFAULT_RULES, split_problems
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


class WordCompressor:
    """Counts and cuts whitespace words and records every budget it is asked for."""

    name = "words"

    def __init__(self) -> None:
        self.budgets: list[tuple[str, int]] = []

    def count(self, text: str) -> int:
        return len(text.split())

    def compress(self, text: str, budget: int) -> str:
        self.budgets.append((text, budget))
        return " ".join(text.split()[:budget])


@pytest.mark.parametrize(("stages", "examples"), [(3, 2), (4, 3), (5, 4)])
def test_each_stage_keeps_exactly_the_linear_share_of_knowledge_and_examples(stages, examples):
    """Stage t of T keeps floor(n (T-1-t)/(T-1)) of n knowledge tokens and floor(K (T-1-t)/(T-1)) examples,
    computed here in exact integers, independently of the schedule's floats."""
    taught, _, _ = _taught()
    shots = neighbours(taught.items, taught, BM25Retriever([i.question for i in taught.items]), examples)
    last = stages - 1
    compressor = WordCompressor()
    datasets = skintern_stages(taught, shots, DecaySchedule(stages, examples), compressor)
    expected = []
    for t, rows in enumerate(datasets):
        for row in rows:
            knowledge = taught.teachings[row["id"]].knowledge
            budget = len(knowledge.split()) * (last - t) // last
            prompt = row["messages"][1]["content"]
            if budget:
                expected.append((knowledge, budget))
                assert prompt.startswith("Knowledge:\n" + " ".join(knowledge.split()[:budget]) + "\n\n")
            else:
                assert "Knowledge:" not in prompt
            assert prompt.count("Question: ") == 1 + examples * (last - t) // last
    assert compressor.budgets == expected  # asked for exactly these budgets, in order, and never for 0

def test_the_last_stage_and_every_inference_prompt_hold_the_question_alone(tmp_path, monkeypatch, tiny_tokenizer):
    """Through the whole experiment: what the last stage trains on, and what each trained student and the
    untrained baseline are asked at inference, is the task instruction and the question, nothing else."""
    from tests.methods.internalize.conftest import make_tiny_llama
    from tooltune.methods.internalize import experiment
    from tooltune.methods.internalize.config import InternalizeConfig
    from tooltune.methods.internalize.metrics import ApproachResult
    from tooltune.methods.internalize.prompts import TASK_INSTRUCTION

    trained, asked = {}, {}
    monkeypatch.setattr(experiment, "train_staged", lambda m, t, datasets, *a, **k: trained.update(skintern=datasets))
    monkeypatch.setattr(experiment, "train_baseline", lambda m, t, dataset, *a, **k: trained.update(std_cot=[dataset]))

    def evaluate(name, model, tokenizer, prompts, golds, parameters, config):
        asked[name] = prompts
        return ApproachResult(name, 0, len(golds), [1] * len(golds), [1] * len(golds), parameters), [{}] * len(golds)

    monkeypatch.setattr(experiment, "evaluate_approach", evaluate)
    config = InternalizeConfig(train={"output_dir": str(tmp_path)}, n_train=6, n_test=3, rules=2, retriever="bm25",
                               compressor="surprisal")
    experiment.run_task_experiment(config, lambda: (make_tiny_llama(tiny_tokenizer), tiny_tokenizer), lambda e: None)
    test = split_problems(6, 3, seed=0, rules=DEFAULT_RULES[:2])[1]
    alone = [[{"role": "system", "content": TASK_INSTRUCTION}, {"role": "user", "content": f"Question: {i.question}"}]
             for i in test]
    assert list(asked) == list(experiment.APPROACHES)
    for name in experiment.APPROACHES[1:]:
        assert asked[name] == alone, name
    assert all("Knowledge:" in p[1]["content"] for p in asked[experiment.APPROACHES[0]])
    assert len(trained["skintern"]) == config.stages
    for rows in (trained["skintern"][-1], trained["std_cot"][0]):
        questions = {i.id: i.question for i in split_problems(6, 3, seed=0, rules=DEFAULT_RULES[:2])[0]}
        assert rows and all(r["messages"][:2] == [{"role": "system", "content": TASK_INSTRUCTION},
                                                   {"role": "user", "content": f"Question: {questions[r['id']]}"}]
                            for r in rows)
