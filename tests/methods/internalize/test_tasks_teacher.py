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
    teaching = ChatModelTeacher(model, num_rationales=2).teach(item)
    assert teaching.rationales == [f"ok. Answer: {item.answer}"]
    assert teaching.dropped == 1
    assert teaching.knowledge.startswith("Learning summary")
    assert len(model.calls) == 3 and item.question in model.calls[0][0]["content"]
