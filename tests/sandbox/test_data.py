"""Users are distinct, concrete people whose app data agrees with their profile; cases are many and stable."""

from __future__ import annotations

from collections import Counter
from itertools import combinations

from tooltune.sandbox.catalogue import CITIES, catalogue_rows
from tooltune.sandbox.prompts import episode_messages, render_profile
from tooltune.sandbox.tasks import load_cases, load_instructions
from tooltune.sandbox.tools import APP_NAMES, all_tools
from tooltune.sandbox.userdata import user_rows
from tooltune.sandbox.users import get_user, load_users

USERS = load_users()
INSTRUCTIONS = load_instructions()


def _leaves(tree, prefix=""):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix, tree


def test_at_least_16_users_with_full_profiles() -> None:
    assert len(USERS) >= 16 and len({u.id for u in USERS}) == len(USERS)
    shape = {k for k, _ in _leaves(USERS[0].preferences)}
    for user in USERS:
        assert set(user.preferences) == set(APP_NAMES), user.id
        assert {k for k, _ in _leaves(user.preferences)} == shape, f"{user.id} has a different preference shape"
        for field in ("age", "gender", "location", "occupation", "character", "interests", "lifestyle", "household"):
            assert user.persona.get(field), f"{user.id} lacks persona.{field}"
        assert user.city in CITIES and "@" in user.email


def test_users_differ_from_each_other() -> None:
    for a, b in combinations(USERS, 2):
        left, right = dict(_leaves(a.preferences)), dict(_leaves(b.preferences))
        differing = sum(left[k] != right[k] for k in left)
        assert differing >= len(left) // 2, f"{a.id} and {b.id} share too many preferences"
        assert a.persona["occupation"] != b.persona["occupation"]


def test_app_data_agrees_with_preferences() -> None:
    catalogue = catalogue_rows()
    tracks = {t["id"]: t for t in catalogue["tracks"]}
    brands = {p["brand"] for p in catalogue["products"]}
    for user in USERS:
        rows, prefs = user_rows(user), user.preferences
        favorites = [tracks[f["track_id"]] for f in rows["favorites"]]
        assert {t["artist"] for t in favorites} >= set(prefs["music"]["favorite_artists"]), user.id
        assert all(t["genre"] in prefs["music"]["genres"] for t in favorites), user.id
        low, high = prefs["music"]["volume_range"]
        assert low <= prefs["music"]["volume"] <= high
        assert all(low <= p["volume_level"] <= high for p in rows["playback"]), user.id
        senders = {m["sender"] for m in rows["emails"]}
        assert all(c["email"] in senders for c in prefs["email"]["common_contacts"]), user.id
        assert all(m["receiver"] == user.email for m in rows["emails"] if m["folder"] == "inbox")
        w_low, w_high = prefs["health"]["workout_minutes"]
        for workout in rows["workouts"]:
            assert workout["activity"] in prefs["health"]["workout_types"]
            assert w_low <= workout["duration_minutes"] <= w_high
        assert set(prefs["shopping"]["brands"]) <= brands, user.id
        city_food = [r for r in catalogue["restaurants"] if r["city"] == user.city]
        for cuisine in prefs["navigation"]["cuisines"]:
            assert any(r["cuisine"] == cuisine and r["avg_price_per_person"]
                       <= prefs["navigation"]["restaurant_budget_per_person"] for r in city_food), (user.id, cuisine)


def test_instructions_cases_and_keypoints() -> None:
    cases = load_cases()
    assert len(INSTRUCTIONS) >= 50 and len(cases) >= 800 and len(cases) == len(INSTRUCTIONS) * len(USERS)
    assert len({c.id for c in cases}) == len(cases)
    assert cases[0].id == f"{INSTRUCTIONS[0].id}@{USERS[0].id}" == "music-play-01@maya_chen"
    assert [c.id for c in load_cases()] == [c.id for c in cases]
    points = [kp for ins in INSTRUCTIONS for kp in ins.keypoints]
    assert len({kp.id for kp in points}) == len(points)
    checkable = sum(kp.checkable for kp in points)
    assert checkable >= 0.74 * len(points), f"only {checkable}/{len(points)} key points are checkable"
    proactive = [kp for kp in points if kp.kind == "proactive"]
    assert sum(kp.checkable for kp in proactive) >= 0.6 * len(proactive)
    assert sum(ins.multi_app for ins in INSTRUCTIONS) >= 10
    assert {ins.apps[0] for ins in INSTRUCTIONS} == set(APP_NAMES)
    tool_app = {t.name: t.app for t in all_tools()}
    for ins in INSTRUCTIONS:
        kinds = Counter(kp.kind for kp in ins.keypoints)
        assert kinds["personal"] >= 1 and kinds["proactive"] >= 1, ins.id
        assert all(name in tool_app for name in ins.tools), ins.id
        assert {tool_app[name] for name in ins.tools} <= set(ins.apps), ins.id


def test_profile_rendering_and_episode_start() -> None:
    case = next(c for c in load_cases() if c.id == "home-bath-03@aiko_tanaka")
    with_profile = episode_messages(case)
    assert [m["role"] for m in with_profile] == ["system", "user"] and with_profile[1]["content"] == "Run me a bath."
    system = with_profile[0]["content"]
    assert "2024-09-06 21:00:00 (Friday)" in system and "Home in Portland" in system
    assert "bath temperature: 40.0" in system and "Music preferences" not in system
    bare = episode_messages(case, include_profile=False)[0]["content"]
    assert "Aiko Tanaka" in bare and "bath temperature" not in bare and "User profile" not in bare
    full = render_profile(get_user("Aiko Tanaka"))
    assert all(f"{app.replace('_', ' ').capitalize()} preferences" in full for app in APP_NAMES)
