"""Every gold trajectory passes every checkable key point; a preference-blind policy does not."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tooltune.sandbox.checks import check_keypoints
from tooltune.sandbox.prompts import episode_messages
from tooltune.sandbox.reference import blind_trajectory, gold_trajectory


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


def test_all_gold_trajectories_pass_every_checkable_keypoint(outcomes) -> None:
    assert len(outcomes) >= 800
    failures = [(case.id, r.keypoint_id, r.reason) for case, _, results, _ in outcomes for r in results
                if r.passed is False]
    assert not failures, failures[:10]
    decided = sum(r.passed is True for _, _, results, _ in outcomes for r in results)
    assert decided >= sum(len(results) for _, _, results, _ in outcomes) / 2


def test_preference_blind_policy_fails_a_substantial_share(outcomes, capsys) -> None:
    by_kind: Counter = Counter()
    failed: Counter = Counter()
    for case, _, _, blind in outcomes:
        kinds = {kp.id: kp.kind for kp in case.instruction.keypoints}
        for result in blind:
            if result.passed is not None:
                by_kind[kinds[result.keypoint_id]] += 1
                failed[kinds[result.keypoint_id]] += result.passed is False
    total, lost = sum(by_kind.values()), sum(failed.values())
    with capsys.disabled():  # the share is the point of this test: always show it
        print(f"\npreference-blind policy fails {lost}/{total} checkable key points ({lost / total:.1%}); "
              f"personal {failed['personal']}/{by_kind['personal']} ({failed['personal'] / by_kind['personal']:.1%}), "
              f"proactive {failed['proactive']}/{by_kind['proactive']} "
              f"({failed['proactive'] / by_kind['proactive']:.1%})")
    assert lost / total >= 0.3
    assert failed["personal"] / by_kind["personal"] >= 0.5


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
