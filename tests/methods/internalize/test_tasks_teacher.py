import pytest

from tooltune.methods.internalize.tasks import split_problems, unit_word_problems
from tooltune.methods.internalize.teacher import (
    ChatModelTeacher,
    DeterministicTeacher,
    answers_match,
    extract_answer,
)
from tooltune.models.scripted import ScriptedModel
from tooltune.models.types import AssistantMessage


def test_generated_rationales_reach_the_gold_answer():
    items = unit_word_problems(60, seed=1)
    assert len({i.question for i in items}) == 60
    for item in items:
        assert item.rationales and item.knowledge
        for r in item.rationales:
            assert extract_answer(r) == item.answer
        assert "Supplementary knowledge" in item.knowledge and "Learning summary" in item.knowledge


def test_split_is_disjoint():
    train, test = split_problems(30, 10, seed=2)
    assert len(train) == 30 and len(test) == 10
    assert not {t.question for t in train} & {t.question for t in test}


def test_answer_extraction():
    assert extract_answer("3 × 4 = 12. Answer: 12") == "12"
    assert extract_answer("so the answer is 1,200.") == "1200"
    assert extract_answer("we get 5 then 7") == "7"
    assert extract_answer("no numbers") is None
    assert answers_match("12.0", "12") and not answers_match("13", "12") and not answers_match(None, "1")


def test_deterministic_teacher_keeps_correct_rationales():
    item = unit_word_problems(1)[0]
    teaching = DeterministicTeacher(num_rationales=2).teach(item)
    assert teaching.rationales == item.rationales[:2] and teaching.dropped == 0
    item.rationales = [item.rationales[0], "Answer: -1"]
    teaching = DeterministicTeacher().teach(item)
    assert teaching.rationales == [item.rationales[0]] and teaching.dropped == 1


def test_chat_teacher_drops_rationales_with_wrong_answers():
    item = unit_word_problems(1)[0]
    replies = iter([f"ok. Answer: {item.answer}", "Answer: 99999", "Learning summary: 1. multiply."])
    model = ScriptedModel(lambda messages, tools: AssistantMessage(content=next(replies)))
    teaching = ChatModelTeacher(model, num_rationales=2, knowledge_candidates=1).teach(item)
    assert teaching.rationales == [f"ok. Answer: {item.answer}"]
    assert teaching.dropped == 1
    assert teaching.knowledge.startswith("Learning summary")
    assert len(model.calls) == 3 and item.question in model.calls[0][0]["content"]


def test_chat_teacher_writes_knowledge_from_answer_and_rationale_and_keeps_the_closest():
    """SKIntern's knowledge: the question, its gold answer and a correct rationale in the prompt; of several
    candidates the one most similar to the question and rationale is kept."""
    item = unit_word_problems(1, seed=5)[0]
    rationale = item.rationales[0]
    candidates = iter(["Learning summary: 1. Bake the bread slowly.", f"Learning summary: 1. {rationale}",
                       "Supplementary knowledge: cats sleep a lot."])

    def reply(messages, tools):
        prompt = messages[-1]["content"]
        return AssistantMessage(content=rationale if prompt.startswith("Solve") else next(candidates))

    model = ScriptedModel(reply)
    teaching = ChatModelTeacher(model, num_rationales=2, knowledge_candidates=3, retriever="bm25").teach(item)
    assert teaching.knowledge == f"Learning summary: 1. {rationale}"
    knowledge_prompts = [c[-1]["content"] for c in model.calls[2:]]
    assert len(knowledge_prompts) == 3
    assert all(item.question in p and f"Correct answer: {item.answer}" in p and rationale in p for p in knowledge_prompts)
    assert all(f"Known fact: {item.facts}" in c[-1]["content"] for c in model.calls)  # the teacher knows the rule


def test_chat_teacher_writes_test_knowledge_without_the_answer():
    item = unit_word_problems(1, seed=6)[0]
    model = ScriptedModel([AssistantMessage(content="Learning summary: 1. convert.")], repeat_last=True)
    knowledge = ChatModelTeacher(model, knowledge_candidates=2, retriever="bm25").knowledge(item)
    assert knowledge == "Learning summary: 1. convert." and len(model.calls) == 2  # duplicates collapse to one
    assert all(item.question in c[-1]["content"] and "Correct answer" not in c[-1]["content"] for c in model.calls)
    with pytest.raises(ValueError, match="knowledge_candidates"):
        ChatModelTeacher(model, knowledge_candidates=0)
