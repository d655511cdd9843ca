"""Episodes start pristine, stay isolated, diff against the start; templates are built from rows."""

from __future__ import annotations

import pytest

from tooltune.sandbox.retrieval import BM25Ranker, tool_doc_text
from tooltune.sandbox.state import SCHEMA, build_template, diff_snapshots
from tooltune.sandbox.tools import all_tools
from tooltune.sandbox.world import World


def test_episode_isolation(suite) -> None:
    case = suite.case("music-play-01@maya_chen")
    with suite.open_world(case) as first:
        assert "result" in first.call("play_music", {"music_name": "Willow Roads", "volume_level": 0})
        assert "result" in first.call("control_light_in_home", {"action": "on", "location": "residence"})
        assert first.query("SELECT count(*) AS n FROM playback WHERE volume_level = 0") == [{"n": 1}]
    with suite.open_world(case) as second:
        assert second.query("SELECT count(*) AS n FROM playback WHERE volume_level = 0") == [{"n": 0}]
        assert second.query("SELECT count(*) AS n FROM lights WHERE is_on = 1") == [{"n": 0}]
        assert second.diff() == {}
    template, _ = suite.template(case.user)
    assert template.execute("SELECT count(*) FROM lights WHERE is_on = 1").fetchone() == (0,)


def test_diff_reports_inserts_updates_deletes(world) -> None:
    world.call("add_alarm", {"alarm_time": "2024-09-06 13:00:00", "message": "lunch"})
    world.call("delete_event_in_calendar", {"event_id": world.query("SELECT min(id) AS i FROM events")[0]["i"]})
    world.call("set_temperature_and_humidity_in_home", {"temperature": 19.5})
    diff = world.diff()
    assert diff["alarms"]["inserted"][0]["message"] == "lunch"
    assert len(diff["events"]["deleted"]) == 1
    (change,) = diff["thermostat"]["updated"]
    assert change["before"]["target_temperature"] == 24.0 and change["after"]["target_temperature"] == 19.5
    assert set(diff) == {"alarms", "events", "thermostat"}


def test_diff_skips_the_snapshot_only_when_nothing_was_written(world, monkeypatch) -> None:
    import tooltune.sandbox.world as world_module

    taken = []
    real = world_module.snapshot
    monkeypatch.setattr(world_module, "snapshot", lambda *a, **k: taken.append(1) or real(*a, **k))
    world.call("get_today_weather", {})  # reads only
    assert world.diff() == {} and taken == []
    world.call("add_alarm", {"alarm_time": "2024-09-06 13:00:00", "message": "lunch"})
    assert world.diff()["alarms"]["inserted"][0]["message"] == "lunch" and taken == [1]
    world.db.execute("DELETE FROM alarms WHERE message = 'lunch'")  # written, then undone: compared, no change
    assert world.diff() == {} and taken == [1, 1]


def test_worlds_of_different_users_differ(suite) -> None:
    a = suite.open_world(suite.case("music-play-01@maya_chen"))
    b = suite.open_world(suite.case("music-play-01@robert_fields"))
    with a, b:
        fav_a = {t["title"] for t in a.call("get_music_list_in_favorites")["result"]}
        fav_b = {t["title"] for t in b.call("get_music_list_in_favorites")["result"]}
        assert fav_a and fav_b and fav_a.isdisjoint(fav_b)
        assert a.ctx.user_info("email") != b.ctx.user_info("email")


def test_clock_follows_the_case(suite) -> None:
    case = suite.case("cal-today-01@maya_chen")
    with suite.open_world(case) as world:
        assert str(world.now) == case.instruction.timestamp
        events = world.call("view_today_events_in_calendar")["result"]
        assert events and all(e["start_time"].startswith("2024-09-06") for e in events)


def test_build_template_validates_rows() -> None:
    with pytest.raises(ValueError, match="unknown table 'songs'"):
        build_template({"songs": []})
    with pytest.raises(ValueError, match="table 'alarms', row 0: unknown columns \\['volume'\\]"):
        build_template({"alarms": [{"alarm_time": "2024-09-06 07:00:00", "volume": 3}]})
    with pytest.raises(ValueError, match="table 'thermostat', row 0"):
        build_template({"thermostat": [{"id": 2, "current_temperature": 20, "current_humidity": 40,
                                        "target_temperature": 21, "target_humidity": 40, "mode": "auto"}]})


def test_minimal_template_world() -> None:
    template = build_template({"user_info": [{"key": "email", "value": "me@example.com"}],
                               "lights": [{"room": "kitchen", "is_on": 0, "brightness": 50, "color": "warm white"}]})
    assert set(SCHEMA) <= {r[0] for r in template.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    with World(template, "2024-09-06 09:00:00") as world:
        assert world.call("control_light_in_home", {"action": "on", "location": "bedroom"})["error"]["type"] == "not_found"
        assert world.call("get_home_temperature_and_humidity")["error"]["type"] == "not_found"
        sent = world.call("send_email", {"receiver": "you@example.com", "subject": "hi", "content": "hello"})
        assert sent["result"]["sender"] == "me@example.com"
        assert world.diff()["emails"]["inserted"][0]["receiver"] == "you@example.com"
        assert world.diff(["emails", "lights"]) == {"emails": world.diff()["emails"]}  # only the tables asked for


def test_snapshot_diff_is_symmetric() -> None:
    start = {"t": {(1,): {"id": 1, "v": "a"}, (2,): {"id": 2, "v": "b"}}}
    end = {"t": {(2,): {"id": 2, "v": "c"}, (3,): {"id": 3, "v": "d"}}}
    diff = diff_snapshots(start, end)["t"]
    assert diff["inserted"] == [{"id": 3, "v": "d"}] and diff["deleted"] == [{"id": 1, "v": "a"}]
    assert diff["updated"] == [{"before": {"id": 2, "v": "b"}, "after": {"id": 2, "v": "c"}}]
    assert diff_snapshots(end, end) == {}


def test_bm25_ranks_the_right_tool_first() -> None:
    docs = [(t.name, tool_doc_text(t)) for t in all_tools()]
    ranker = BM25Ranker()
    assert ranker.rank("play a song at a volume", docs, 3)[0][0] == "play_music"
    assert ranker.rank("book a flight seat", docs, 3)[0][0] == "book_flight"
    assert ranker.rank("weather forecast for next days", docs, 3)[0][0] == "get_future_weather"


def test_search_tools_and_get_tool_doc_through_the_world(suite) -> None:
    template, start = suite.template(suite.users[0])
    with World(template, "2024-09-06 09:00:00", start=start, ranker=BM25Ranker) as world:
        found = world.call("search_tools", {"query": "dim the lights in the bedroom", "top_k": 3})["result"]
        assert found[0]["name"] == "control_light_in_home" and len(found) == 3
        doc = world.call("get_tool_doc", {"name": "control_light_in_home"})["result"]
        assert doc == world.tool_schemas(["control_light_in_home"])[0]
        assert len(world.tool_schemas()) == len(all_tools()) + 2


@pytest.mark.slow
def test_embedding_ranker_finds_tools_by_meaning() -> None:
    from tooltune.sandbox.retrieval import EmbeddingRanker, default_ranker

    ranker = default_ranker()
    assert isinstance(ranker, EmbeddingRanker) and default_ranker() is ranker
    docs = [(t.name, tool_doc_text(t)) for t in all_tools()]
    names = [name for name, _ in ranker.rank("I'm freezing at home", docs, 5)]
    assert "set_temperature_and_humidity_in_home" in names
    assert ranker.rank("send a message to my mom", docs, 3)[0][0] == "send_email"
