import pytest

from tooltune.methods.internalize.schedule import DecaySchedule, decay_ratios


def test_linear_decay_matches_the_paper_default():
    assert decay_ratios(4) == pytest.approx([1.0, 2 / 3, 1 / 3, 0.0])
    assert decay_ratios(2) == [1.0, 0.0]


def test_exponential_decay_starts_at_one_and_ends_at_zero_below_linear():
    exp, lin = decay_ratios(5, "exponential"), decay_ratios(5)
    assert exp[0] == 1.0 and exp[-1] == 0.0
    assert all(e <= l for e, l in zip(exp, lin))
    assert exp == sorted(exp, reverse=True)


def test_budgets_and_examples_per_stage():
    schedule = DecaySchedule(stages=4, examples=3, total_epochs=12)
    plans = schedule.plans()
    assert [p.knowledge_budget(90) for p in plans] == [90, 60, 30, 0]
    assert [p.knowledge_budget(10) for p in plans] == [10, 6, 3, 0]
    assert [p.num_examples for p in plans] == [3, 2, 1, 0]
    assert [p.epochs for p in plans] == [3, 3, 3, 3]
    assert [p.question_only for p in plans] == [False, False, False, True]


def test_seven_stages_floor_examples():
    plans = DecaySchedule(stages=7, examples=4, total_epochs=7).plans()
    # S = 1, 5/6, 4/6, 3/6, 2/6, 1/6, 0 -> floor(4 S)
    assert [p.num_examples for p in plans] == [4, 3, 2, 2, 1, 0, 0]
    assert plans[-1].knowledge_budget(1000) == 0


def test_describe_prints_every_stage():
    text = DecaySchedule().describe(knowledge_tokens=60)
    assert "question only" in text
    assert len(text.splitlines()) == 2 + 4
    assert " 40 " in text.splitlines()[3]  # stage 1 keeps 2/3 of 60


@pytest.mark.parametrize(
    "kwargs, field",
    [({"stages": 1}, "stages"), ({"examples": -1}, "examples"), ({"total_epochs": 0}, "total_epochs"), ({"kind": "cosine"}, "kind")],
)
def test_bad_configuration_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        DecaySchedule(**kwargs)
