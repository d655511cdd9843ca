"""The profile experiment with a given set of held-out instructions, from a starting adapter, pooled over users."""

from __future__ import annotations

import math

import pytest

from tooltune.methods.internalize.errors import InternalizeError
from tooltune.methods.internalize.profile import split_cases, user_cases
from tooltune.methods.internalize.profile_pool import kept_share, pooled_comparison, pooled_table

HELD_OUT = ["cal-today-01", "cal-add-02", "nav-walk-05", "shop-groceries-03", "web-field-04"]


@pytest.fixture(scope="module")
def cases():
    from tooltune.sandbox.suite import builtin_suite

    return user_cases(builtin_suite(), "grace_kim")


def test_held_out_cases_come_from_the_given_instructions_none_of_which_is_trained_on(cases):
    train, test = split_cases(cases, 10, 3, seed=0, test_instructions=HELD_OUT)
    assert len(test) == 3 and {c.instruction.id for c in test} <= set(HELD_OUT)
    assert len(train) == 10 and not {c.instruction.id for c in train} & set(HELD_OUT)
    apps = {a for c in test for a in c.instruction.apps}
    overlap = [len(apps & set(c.instruction.apps)) for c in train]
    assert overlap == sorted(overlap, reverse=True) and overlap[0] >= 1  # the held-out apps are trained on first
    with pytest.raises(InternalizeError, match="test_instructions"):
        split_cases(cases, 10, 3, seed=0, test_instructions=["no-such-01"])
    with pytest.raises(InternalizeError, match="n_train"):
        split_cases(cases, 2, len(HELD_OUT) + 1, seed=0, test_instructions=HELD_OUT)


def test_kept_share_is_a_ratio_of_sums_with_an_interval():
    kept, low, high = kept_share([2, 1, 0, 1], [1, 1, 1, 0], resamples=2000)
    assert kept == 3 / 4 and low <= kept <= high
    assert math.isnan(kept_share([0, 0], [1, 1])[0])


def test_pooled_comparison_pairs_the_cases_of_every_user(monkeypatch):
    counts = {"a/ref": {"x@a": (2, 3), "y@a": (1, 2)}, "a/int": {"x@a": (1, 3), "y@a": (1, 2)},
              "b/ref": {"x@b": (1, 1)}, "b/int": {"x@b": (0, 1)}}
    monkeypatch.setattr("tooltune.methods.internalize.profile_pool.personal_counts", lambda run_dir: counts[run_dir])

    def report(user: str, cases: int) -> dict:
        return {"config": {"user": user}, "test": list(range(cases)), "results": [
            {"condition": "untrained, profile in prompt", "run_dir": f"{user}/ref", "first_turn_prompt_tokens": 900},
            {"condition": "internalized", "run_dir": f"{user}/int", "first_turn_prompt_tokens": 700}]}

    pooled = pooled_comparison([report("a", 2), report("b", 1)], resamples=500)
    assert pooled["cases"] == ["x@a", "x@b", "y@a"] and pooled["users"] == ["a", "b"]
    ours = pooled["conditions"]["internalized"]
    assert (ours["personal_passed"], ours["personal_decided"]) == (2, 6)
    assert ours["kept_of_reference"][0] == 2 / 4 and ours["diff_per_case"][0] == pytest.approx(-2 / 3)
    assert ours["first_turn_prompt_tokens"] == 700 and "internalized" in pooled_table(pooled)
    with pytest.raises(InternalizeError, match="reference"):
        pooled_comparison([report("a", 2)], reference="nothing")


def test_a_student_adapter_must_be_an_adapter_directory(tmp_path):
    from tooltune.methods.internalize.method import student_loader

    with pytest.raises(InternalizeError, match="student_adapter"):
        student_loader("smollm2", tmp_path)
