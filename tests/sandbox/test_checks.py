"""The checker decides predicate specs from the trajectory (calls with results) and the end state."""

from __future__ import annotations

import json

import pytest

from tooltune.sandbox.cases import Case, Instruction, KeyPoint
from tooltune.sandbox.checks import check_keypoints, compare, extract_calls


def _call(call_id: str, name: str, arguments: dict) -> dict:
    return {"role": "assistant", "content": None, "tool_calls": [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}]}


def _result(call_id: str, response: dict) -> dict:
    return {"role": "tool", "tool_call_id": call_id, "content": json.dumps(response)}


def _case(suite, *checks) -> Case:
    user = next(u for u in suite.users if u.id == "maya_chen")
    points = [KeyPoint(f"t/k{i}", "personal", "text", check) for i, check in enumerate(checks)]
    points.append(KeyPoint("t/free", "proactive", "be nice", None))
    return Case("t@maya_chen", Instruction("t", "q", "2024-09-06 12:00:00", "Home", ["music"], [], points), user)


@pytest.mark.parametrize(("op", "actual", "expected", "result"), [
    ("equals", "Warm White", "warm white", True), ("equals", 21, 21.0, True), ("equals", 21, 22, False),
    ("in", "Jazz", ["jazz", "soul"], True), ("within", 35, [30, 40], True), ("within", 45, [30, 40], False),
    ("lt", 20, 50, True), ("contains", "Cheers, Maya!", "cheers, maya", True),
    ("contains_any", "Yoga workout", ["running", "yoga"], True), ("contains_any", "Workout", ["yoga"], False),
    ("startswith", "2024-09-09 09:00:00", "2024-09-09", True), ("time_in", "2024-09-07 07:30:00", "morning", True),
    ("time_in", "2024-09-07 19:30:00", "afternoon", False), ("lte", "x", 3, False),
])
def test_compare(op, actual, expected, result) -> None:
    assert compare(op, actual, expected) is result


def test_unknown_operator_and_check_type_raise(suite) -> None:
    with pytest.raises(ValueError, match="unknown comparison operator"):
        compare("roughly", 1, 1)
    case = _case(suite, {"type": "vibes"})
    with suite.open_world(case) as world, pytest.raises(ValueError, match="unknown check type 'vibes'"):
        check_keypoints(case, [], world)


def test_calls_count_only_with_a_successful_result(suite) -> None:
    messages = [
        _call("a", "play_music", {"music_name": "x", "volume_level": 35}),  # no result shown: does not count
        _call("b", "play_music", {"music_name": "x", "volume_level": 90}), _result("b", {"error": {"type": "t", "message": "m"}}),
        _call("c", "add_alarm", {"alarm_time": "2024-09-06 13:00:00"}), _result("c", {"result": {}}),
        {"role": "assistant", "content": "All done, cheers, Maya"},
    ]
    assert [c.name for c in extract_calls(messages)] == ["play_music", "add_alarm"]
    case = _case(
        suite,
        {"type": "called", "tool": "play_music"},
        {"type": "arg", "tool": "add_alarm", "arg": "alarm_time", "op": "startswith", "value": "2024-09-06"},
        {"type": "answer", "op": "contains", "value": {"pref": "email.sign_off"}},
        {"type": "order", "first": "add_alarm", "then": "play_music"},
        {"type": "not", "check": {"type": "called", "tool": "play_music"}},
    )
    with suite.open_world(case) as world:
        results = check_keypoints(case, messages, world)
    assert [r.passed for r in results] == [False, True, True, False, True, None]
    assert "needs an LLM judge" in results[-1].reason


def test_state_checks_and_value_specs(suite) -> None:
    case = _case(
        suite,
        {"type": "row", "table": "alarms", "change": "inserted",
         "where": {"alarm_time": {"op": "equals", "value": {"at": [0, "13:00"]}}}},
        {"type": "count", "table": "lights", "where": {"is_on": {"op": "equals", "value": 1}}, "op": "equals", "value": 1},
        {"type": "arg_row", "tool": "play_music", "arg": "music_name", "table": "tracks", "key": "title",
         "column": "artist", "op": "in", "value": {"pref": "music.favorite_artists"}},
        {"type": "arg", "tool": "add_alarm", "arg": "alarm_time", "op": "equals",
         "value": {"sql": "SELECT strftime('%Y-%m-%d %H:%M:%S', :now, '+60 minutes')"}},
        {"type": "any", "checks": [{"type": "called", "tool": "send_email"},
                                   {"type": "arg", "tool": "play_music", "arg": "volume_level", "op": "within",
                                    "value": {"pref": "music.volume_range"}}]},
    )
    with suite.open_world(case) as world:
        favorite = next(t for t in world.call("get_music_list_in_favorites")["result"] if t["artist"] == "Paper Lanterns")
        messages = []
        for i, (name, args) in enumerate([("add_alarm", {"alarm_time": "2024-09-06 13:00:00"}),
                                          ("control_light_in_home", {"action": "on", "location": "study"}),
                                          ("play_music", {"music_name": favorite["title"], "volume_level": 35})]):
            messages += [_call(str(i), name, args), _result(str(i), world.call(name, args))]
        assert [r.passed for r in check_keypoints(case, messages, world)] == [True, True, True, True, True, None]
        world.call("control_light_in_home", {"action": "on", "location": "kitchen"})
        assert check_keypoints(case, messages, world)[1].passed is False


def test_many_valued_sql_and_counting_only_original_rows(suite) -> None:
    overlap = {"start_time": {"op": "lt", "value": "2024-09-06 11:30:00"},
               "end_time": {"op": "gt", "value": "2024-09-06 10:30:00"}}
    titles = {"sql": "SELECT title FROM events WHERE start_time LIKE '2024-09-06%' ORDER BY id", "many": True}
    case = _case(
        suite,
        {"type": "count", "table": "events", "where": overlap, "op": "equals", "value": 2},
        {"type": "count", "table": "events", "where": overlap, "op": "equals", "value": 1, "scope": "original"},
        {"type": "answer", "op": "contains_any", "value": titles},
        {"type": "answer", "op": "contains_any", "value": {"sql": "SELECT title FROM events WHERE 0", "many": True}},
    )
    with suite.open_world(case) as world:
        args = {"title": "Coffee", "start_time": "2024-09-06 11:00:00", "end_time": "2024-09-06 11:15:00"}
        messages = [_call("a", "add_event_in_calendar", args), _result("a", world.call("add_event_in_calendar", args)),
                    {"role": "assistant", "content": "Mind the usability study: onboarding flow at 10:00."}]
        results = check_keypoints(case, messages, world)
    # the agent's own new event overlaps too, but only the event that was already there counts as a clash
    assert [r.passed for r in results] == [True, True, True, False, None]
    assert "original" in results[1].reason
    with suite.open_world(case) as world, pytest.raises(ValueError, match="unknown count scope"):
        check_keypoints(_case(suite, {**case.instruction.keypoints[1].check, "scope": "later"}), [], world)
