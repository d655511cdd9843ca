"""Profile internalization data: the gold trajectory's system message holds the profile compressed to S_t."""

import pytest

from tooltune.methods.internalize.compress import SurprisalCompressor
from tooltune.methods.internalize.profile import ProfileConfig, profile_text, split_cases, stage_example, user_cases
from tooltune.methods.internalize.schedule import DecaySchedule


@pytest.fixture(scope="module")
def suite():
    from tooltune.sandbox.suite import builtin_suite

    return builtin_suite()


def test_stage_examples_decay_the_profile_away(suite, tiny_model, tiny_tokenizer):
    from tooltune.sandbox.prompts import system_prompt

    case = user_cases(suite, suite.users[0].id)[0]
    compressor = SurprisalCompressor(tiny_model, tiny_tokenizer)
    profile = profile_text(case)
    n = compressor.count(profile)
    plans = DecaySchedule(stages=3, examples=0).plans()
    examples = [stage_example(case, plan, compressor) for plan in plans]
    systems = [e["messages"][0]["content"] for e in examples]
    assert profile in systems[0] and systems[0] == system_prompt(case, include_profile=True)
    assert systems[-1] == system_prompt(case, include_profile=False) and "User profile" not in systems[-1]
    middle = systems[1].split("User profile:\n", 1)[1]
    assert profile not in systems[1] and 0 < compressor.count(middle) <= plans[1].knowledge_budget(n)
    # the rest of the trajectory (query, gold tool calls, answer) is the same at every stage
    assert all(e["messages"][1:] == examples[0]["messages"][1:] for e in examples)
    assert examples[0]["messages"][1]["content"] == case.instruction.query
    assert [t["function"]["name"] for t in examples[0]["tools"]] == list(case.instruction.tools)


def test_split_holds_out_instructions_and_validates(suite):
    cases = user_cases(suite, suite.users[1].id)
    train, test = split_cases(cases, 2, 2, seed=0)
    assert len(train) == 2 and len(test) == 2
    assert not {c.instruction.id for c in train} & {c.instruction.id for c in test}
    assert all(any(k.kind == "personal" and k.check for k in c.instruction.keypoints) for c in test)
    with pytest.raises(ValueError, match="n_train"):
        split_cases(cases, len(cases), 1, seed=0)
    with pytest.raises(ValueError, match="user"):
        user_cases(suite, "nobody_here")


def test_profile_config_names_bad_fields():
    with pytest.raises(ValueError, match="stages"):
        ProfileConfig(output_dir="x", user="u", stages=1)
