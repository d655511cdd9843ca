"""Every gold trajectory passes every checkable key point; the literal, preference-blind policy does not.

The blind policy (reference.py) ignores preferences and does only what the request literally says, so it
should fail most personal key points and most proactive ones. The heedless control makes every proactive
call and action but uses nothing it observed: the proactive key points it fails show that the checks test
what was done with an observation (an argument, a named fact, a row), not merely that a tool was called.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tooltune.sandbox.checks import check_keypoints
from tooltune.sandbox.prompts import episode_messages
from tooltune.sandbox.reference import blind_trajectory, gold_trajectory, heedless_trajectory


@pytest.fixture(scope="module")
def outcomes(suite):
    """(case, gold messages, gold results, blind results) for all cases, computed once."""
    rows = []
    for case in suite.cases:
        with suite.open_world(case) as world:
            gold = gold_trajectory(case, world)
            gold_results = check_keypoints(case, gold, world)
        with suite.open_world(case) as world:
            blind_results = check_keypoints(case, blind_trajectory(case, world), world)
        rows.append((case, gold, gold_results, blind_results))
    return rows


def failure_rates(results_by_case) -> tuple[Counter, Counter]:
    """(decided, failed) checkable key-point results per kind, over (case, results) pairs."""
    decided: Counter = Counter()
    failed: Counter = Counter()
    for case, results in results_by_case:
        kinds = {kp.id: kp.kind for kp in case.instruction.keypoints}
        for result in results:
            if result.passed is not None:
                decided[kinds[result.keypoint_id]] += 1
                failed[kinds[result.keypoint_id]] += result.passed is False
    return decided, failed


def describe(name: str, decided: Counter, failed: Counter) -> str:
    total, lost = sum(decided.values()), sum(failed.values())
    return (f"{name} fails {lost}/{total} checkable key points ({lost / total:.1%}); "
            + ", ".join(f"{kind} {failed[kind]}/{decided[kind]} ({failed[kind] / decided[kind]:.1%})"
                        for kind in ("personal", "proactive")))


def test_all_gold_trajectories_pass_every_checkable_keypoint(outcomes) -> None:
    assert len(outcomes) >= 800
    failures = [(case.id, r.keypoint_id, r.reason) for case, _, results, _ in outcomes for r in results
                if r.passed is False]
    assert not failures, failures[:10]
    decided = sum(r.passed is True for _, _, results, _ in outcomes for r in results)
    assert decided >= sum(len(results) for _, _, results, _ in outcomes) / 2


def test_literal_preference_blind_policy_fails_most_keypoints(outcomes, capsys) -> None:
    decided, failed = failure_rates((case, blind) for case, _, _, blind in outcomes)
    with capsys.disabled():  # the shares are the point of this test: always show them
        print("\n" + describe("literal preference-blind policy", decided, failed))
    # measured: 79.6% overall, personal 71.8%, proactive 93.1% (README, sandbox section)
    assert sum(failed.values()) / sum(decided.values()) >= 0.7
    assert failed["personal"] / decided["personal"] >= 0.6
    assert failed["proactive"] / decided["proactive"] >= 0.8


def test_proactive_checks_need_the_observation_used_not_just_the_call(suite, capsys) -> None:
    rows = []
    for case in suite.cases:
        with suite.open_world(case) as world:
            rows.append((case, check_keypoints(case, heedless_trajectory(case, world), world)))
    decided, failed = failure_rates(rows)
    with capsys.disabled():
        print("\n" + describe("heedless control (every proactive call made, nothing observed used)", decided, failed))
    assert failed["personal"] == 0  # it honours every preference
    # measured 67.2%: checks of the form "tool X was called" would all pass here
    assert failed["proactive"] / decided["proactive"] >= 0.55


def test_gold_trajectories_are_well_formed(outcomes) -> None:
    for case, messages, _, _ in outcomes:
        assert messages[:2] == episode_messages(case)
        pending: dict[str, str] = {}
        for message in messages[2:-1]:
            if message["role"] == "assistant":
                assert message["content"] is None and len(message["tool_calls"]) == 1
                call = message["tool_calls"][0]
                assert call["function"]["name"] in case.instruction.tools, (case.id, call["function"]["name"])
                json.loads(call["function"]["arguments"])
                pending[call["id"]] = call["function"]["name"]
            else:
                assert message["role"] == "tool" and pending.pop(message["tool_call_id"]) == message["name"]
                assert "result" in json.loads(message["content"])
        assert not pending and messages[-1]["role"] == "assistant" and messages[-1]["content"]


def test_gold_is_deterministic_and_needs_no_world(suite) -> None:
    case = suite.case("nav-trip-03@ethan_brooks")
    first = gold_trajectory(case)
    with suite.open_world(case) as world:
        assert gold_trajectory(case, world) == first
    assert "business" in first[-1]["content"]
