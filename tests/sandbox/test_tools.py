"""Tool schemas come from signatures and validate as JSON Schema; every tool refuses bad calls cleanly."""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Literal

import pytest
from jsonschema import Draft202012Validator

from tooltune.sandbox.retrieval import retrieval_tools
from tooltune.sandbox.state import USER_TABLES, snapshot
from tooltune.sandbox.tools import APP_NAMES, Range, ToolContext, all_tools, tool, tool_schema

ALL = all_tools() + retrieval_tools()


def test_at_least_33_tools_over_9_apps() -> None:
    per_app = Counter(t.app for t in all_tools())
    assert set(per_app) == set(APP_NAMES)
    assert sum(per_app.values()) >= 33
    assert [t.name for t in retrieval_tools()] == ["search_tools", "get_tool_doc"]


@pytest.mark.parametrize("t", ALL, ids=lambda t: t.name)
def test_schema_is_valid_json_schema(t) -> None:
    Draft202012Validator.check_schema(t.parameters)
    function = t.schema["function"]
    assert t.schema["type"] == "function" and function["name"] == t.name and function["description"]
    for name, prop in t.parameters["properties"].items():
        assert prop["description"], f"{t.name}.{name} lacks a description"
    assert t.parameters["additionalProperties"] is False


def test_schema_generation_from_signature() -> None:
    def demo(ctx: ToolContext, level: Annotated[int, Range(0, 10)], mode: Literal["a", "b"] = "a",
             tags: list[str] | None = None) -> None:
        """Does a demo thing.

        Args:
            level: How much (0-10).
            mode: Which mode.
            tags: Free tags,
                continued on a second line.
        """

    schema = tool_schema(demo)["function"]
    assert schema["description"] == "Does a demo thing."
    props = schema["parameters"]["properties"]
    assert props["level"] == {"type": "integer", "minimum": 0, "maximum": 10, "description": "How much (0-10)."}
    assert props["mode"]["enum"] == ["a", "b"] and props["mode"]["default"] == "a"
    assert props["tags"]["type"] == "array" and props["tags"]["description"].endswith("second line.")
    assert schema["parameters"]["required"] == ["level"]


def test_schema_generation_rejects_undocumented_arguments() -> None:
    def bad(ctx: ToolContext, x: int) -> None:
        """No args section."""

    with pytest.raises(TypeError, match="argument x: missing from the docstring"):
        tool_schema(bad)
    with pytest.raises(ValueError, match="unknown app"):
        tool("cooking")


_WRONG = {"string": 123, "integer": "seven", "number": "warm", "boolean": "yes", "array": "not a list"}


def _assert_refused(world, name: str, arguments, expected_type: str | None = None) -> dict:
    before = snapshot(world.db, USER_TABLES)
    response = world.call(name, arguments)
    assert "error" in response, f"{name}({arguments}) should fail, got {response}"
    assert set(response["error"]) == {"type", "message"} and response["error"]["message"]
    if expected_type:
        assert response["error"]["type"] == expected_type, response
    assert snapshot(world.db, USER_TABLES) == before, f"{name} changed the state although it failed"
    return response


@pytest.mark.parametrize("t", ALL, ids=lambda t: t.name)
def test_every_tool_rejects_unknown_and_wrong_typed_arguments(world, t) -> None:
    _assert_refused(world, t.name, {"surprise": 1}, "invalid_arguments")
    for name, prop in t.parameters["properties"].items():
        response = _assert_refused(world, t.name, {name: _WRONG[prop["type"]]}, "invalid_arguments")
        assert name in response["error"]["message"] or "missing required" in response["error"]["message"]
    for name in t.parameters.get("required", []):
        response = _assert_refused(world, t.name, {}, "invalid_arguments")
        assert "missing required argument" in response["error"]["message"]


SEMANTIC_ERRORS = [
    ("add_event_in_calendar", {"title": "x", "start_time": "2024-09-10 10:00:00", "end_time": "2024-09-10 09:00:00"}, "invalid_arguments"),
    ("add_event_in_calendar", {"title": "x", "start_time": "2024-02-30 10:00:00", "end_time": "2024-09-10 11:00:00"}, "invalid_arguments"),
    ("add_event_in_calendar", {"title": "x", "start_time": "2024-09-10 10:00", "end_time": "2024-09-10 11:00",
                               "reminder_minutes": 5000}, "invalid_arguments"),
    ("view_events_in_calendar_by_providing_time_range", {"start_time": "2024-09-10", "end_time": "2024-09-01"}, "invalid_arguments"),
    ("delete_event_in_calendar", {"event_id": 99999}, "not_found"),
    ("add_alarm", {"alarm_time": "2024-09-06 08:00:00"}, "invalid_arguments"),
    ("delete_alarm", {"alarm_id": 424242}, "not_found"),
    ("send_email", {"receiver": "not-an-address", "subject": "s", "content": "c"}, "invalid_arguments"),
    ("send_email", {"receiver": "a@b.com", "subject": " ", "content": "c"}, "invalid_arguments"),
    ("search_email_by_sender_and_receiver", {"address": "a"}, "invalid_arguments"),
    ("search_email_by_content", {"query": "meeting", "top_k": 0}, "invalid_arguments"),
    ("mark_email_as_read", {"email_id": 1}, "not_found"),
    ("get_recent_health_and_mood_summary", {"time": "2030-01-01"}, "invalid_arguments"),
    ("get_user_recent_workout_records", {"time": "2024-09-07 00:00:00"}, "invalid_arguments"),
    ("add_workout_record", {"activity": "yoga", "start_time": "2024-09-06 11:50:00", "duration_minutes": 30}, "invalid_arguments"),
    ("add_workout_record", {"activity": "yoga", "start_time": "2024-09-06 07:00:00", "duration_minutes": 0}, "invalid_arguments"),
    ("play_music", {"music_name": "No Such Song", "volume_level": 30}, "not_found"),
    ("play_music", {"music_name": "Willow Roads", "volume_level": 101}, "invalid_arguments"),
    ("play_music", {"music_name": "Willow Roads", "volume_level": True}, "invalid_arguments"),
    ("search_music", {"limit": 0}, "invalid_arguments"),
    ("add_music_to_favorites", {"music_name": "Blue"}, "ambiguous"),
    ("find_restaurants", {"city": "Atlantis"}, "not_found"),
    ("find_accommodations", {"city": "Seattle", "guests": 13}, "invalid_arguments"),
    ("find_attractions", {"city": "Gotham"}, "not_found"),
    ("find_flight", {"origin_city": "Seattle", "destination_city": "Nashville", "departure_date": "2024-13-01"}, "invalid_arguments"),
    ("find_flight", {"origin_city": "Seattle", "destination_city": "Nashville", "departure_date": "tomorrow"}, "invalid_arguments"),
    ("book_flight", {"flight_id": 10**7, "seat_class": "economy"}, "not_found"),
    ("book_flight", {"flight_id": 1, "seat_class": "first"}, "invalid_arguments"),
    ("book_accommodation", {"accommodation_id": 1, "check_in": "2024-09-01", "nights": 1}, "invalid_arguments"),
    ("book_accommodation", {"accommodation_id": 1, "check_in": "2024-09-08", "nights": 31}, "invalid_arguments"),
    ("reserve_restaurant", {"restaurant_id": 99999, "reservation_time": "2024-09-06 19:00:00", "party_size": 2}, "not_found"),
    ("reserve_restaurant", {"restaurant_id": 1, "reservation_time": "2024-09-06 19:00:00", "party_size": 0}, "invalid_arguments"),
    ("search_products_in_shopping_manager", {"query": "  "}, "invalid_arguments"),
    ("add_product_to_cart", {"product_id": "NOPE", "quantity": 1}, "not_found"),
    ("add_product_to_cart", {"product_id": "P1001", "quantity": 21}, "invalid_arguments"),
    ("remove_product_from_cart", {"product_id": "P9999"}, "not_found"),
    ("control_light_in_home", {"action": "off", "location": "bedroom", "brightness": 50}, "invalid_arguments"),
    ("control_light_in_home", {"action": "on", "location": "garage"}, "invalid_arguments"),
    ("control_light_in_home", {"action": "on", "location": "bedroom", "brightness": 0}, "invalid_arguments"),
    ("set_temperature_and_humidity_in_home", {}, "invalid_arguments"),
    ("set_temperature_and_humidity_in_home", {"temperature": 45}, "invalid_arguments"),
    ("control_bathtub_in_home", {"fill": True}, "invalid_arguments"),
    ("boil_water_in_home", {"temperature": 120}, "invalid_arguments"),
    ("control_curtains_in_home", {"open": "yes"}, "invalid_arguments"),
    ("get_today_weather", {"location": "Narnia"}, "not_found"),
    ("get_future_weather", {"location": "Seattle", "start_time": "2024-09-07", "end_time": "2024-09-20"}, "invalid_arguments"),
    ("search_news_by_category", {"category": "gossip"}, "invalid_arguments"),
    ("search_heat_news", {"limit": 21}, "invalid_arguments"),
    ("search_from_wikipedia", {"query": "jazz", "topk": 11}, "invalid_arguments"),
    ("search_tools", {"query": " "}, "invalid_arguments"),
    ("get_tool_doc", {"name": "teleport"}, "not_found"),
]


@pytest.mark.parametrize(("name", "arguments", "expected"), SEMANTIC_ERRORS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(SEMANTIC_ERRORS)])
def test_tool_specific_error_paths(world, name, arguments, expected) -> None:
    _assert_refused(world, name, arguments, expected)


def test_every_tool_with_arguments_has_a_specific_error_case() -> None:
    covered = {name for name, _, _ in SEMANTIC_ERRORS}
    with_args = {t.name for t in ALL if t.parameters["properties"]}
    assert with_args <= covered, f"no specific error case for {sorted(with_args - covered)}"


def test_stateful_refusals_roll_back(world) -> None:
    assert "result" in world.call("add_product_to_cart", {"product_id": "P1001", "quantity": 15})
    _assert_refused(world, "add_product_to_cart", {"product_id": "P1001", "quantity": 10}, "invalid_arguments")
    assert world.query("SELECT quantity FROM cart WHERE product_id = 'P1001'") == [{"quantity": 15}]
    favorite = world.call("get_music_list_in_favorites")["result"][0]["title"]
    _assert_refused(world, "add_music_to_favorites", {"music_name": favorite}, "conflict")
    for item in world.call("view_cart_in_shopping_manager")["result"]["items"]:
        world.call("remove_product_from_cart", {"product_id": item["product_id"]})
    _assert_refused(world, "checkout_cart", {}, "invalid_state")


def test_call_level_errors(world) -> None:
    assert world.call("play_musik", {})["error"]["type"] == "unknown_tool"
    assert "play_music" in world.call("play_musik", {})["error"]["message"]
    assert world.call("play_music", "{not json")["error"]["type"] == "invalid_json"
    assert world.call("play_music", "[1, 2]")["error"]["type"] == "invalid_arguments"
    assert "result" in world.call("view_today_alarms", "null") and "result" in world.call("view_today_alarms", "")
    ok = world.call("play_music", '{"music_name": "willow roads", "volume_level": 30.0}')
    assert ok["result"]["volume_level"] == 30 and isinstance(ok["result"]["volume_level"], int)
    assert [name for name, _, _ in world.calls][-1] == "play_music"
