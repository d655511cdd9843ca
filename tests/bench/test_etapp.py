"""The ETAPP importer on the upstream sample (../shared/etapp relative to the repo root) and on tiny releases."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from tooltune.bench.config import RunConfig
from tooltune.bench.etapp import EtappImportError, load_etapp_suite
from tooltune.bench.runner import Runner, sandbox_harness
from tooltune.bench.store import RunStore
from tooltune.models.scripted import ScriptedModel
from tooltune.models.types import AssistantMessage, ToolCall

SAMPLE = Path(__file__).resolve().parents[2] / ".." / "shared" / "etapp"
needs_sample = pytest.mark.skipif(not (SAMPLE / "data/instruction/instruction.json").exists(),
                                  reason=f"ETAPP sample not found at {SAMPLE} (upstream data is never copied into the repo)")


@pytest.fixture(scope="module")
def suite():
    return load_etapp_suite(SAMPLE)


@needs_sample
def test_sample_loads_180_cases_with_users_and_keypoints(suite) -> None:
    assert len(suite.users) == 6 and len(suite.instructions) == 30 and len(suite.cases) == 180
    assert len({c.id for c in suite.cases}) == 180
    first = suite.instructions[0]
    assert first.query == "Play some music I like." and first.tools == ["play_music", "get_music_list_in_favorites"]
    assert first.apps == ["music"]
    kinds = [kp.kind for kp in first.keypoints]
    assert kinds == ["personal"] * 3 + ["proactive"] * 3 and all(kp.check is None for kp in first.keypoints)
    user = next(u for u in suite.users if u.name == "Alex Thompson")
    assert user.id == "alex_thompson" and user.persona["location"]
    assert "music" in user.preferences and "smart_home" in user.preferences
    report = suite.import_report
    missing = {s.target for s in report.problems() if s.status == "missing"}
    assert {"flights", "weather", "restaurants"} <= missing
    assert "33 of 33 upstream tools mapped" in report.text()


@needs_sample
def test_worlds_hold_the_users_upstream_state(suite) -> None:
    case = next(c for c in suite.cases if c.user.name == "Amanda Blake" and c.instruction.id == "etapp-01")
    with suite.open_world(case) as world:
        favourites = world.call("get_music_list_in_favorites", {})
        assert "result" in favourites and any(t["title"] == "Clair de Lune" for t in favourites["result"])
        played = world.call("play_music", {"music_name": "Clair de Lune", "volume_level": 30})
        assert "result" in played, played
        assert world.diff()["playback"]["inserted"][0]["volume_level"] == 30
        alarms = world.call("view_today_alarms", {})
        assert "result" in alarms
        assert world.query("SELECT value FROM user_info WHERE key = 'email'")[0]["value"] == "Amanda_Blake@mail.com"
        assert world.call("find_flight", {"origin_city": "Chicago", "destination_city": "Boston",
                                          "departure_date": "2024-09-10"})["error"]["type"] == "not_found"
    with suite.open_world(case) as fresh:  # every episode starts pristine
        assert fresh.diff() == {}


def first_tool_policy(messages, tools):
    """Call the first offered tool with no arguments, then answer."""
    if messages[-1]["role"] == "tool":
        return AssistantMessage(content="Here is what I found.")
    return AssistantMessage(tool_calls=[ToolCall(id="c", name=tools[0]["function"]["name"], arguments={})])


@needs_sample
def test_all_180_cases_run_with_a_scripted_model(suite, tmp_path: Path) -> None:
    config = RunConfig(model="scripted", suite=f"etapp:{SAMPLE}", batch_size=16)
    runner = Runner(ScriptedModel(first_tool_policy), suite, config, RunStore(tmp_path), sandbox_harness(suite),
                    progress=False)
    counts = runner.run()
    assert counts == {"done": 180, "failed": 0, "skipped": 0}, runner.store.failures()
    records = list(runner.store.records())
    assert all(r.turns == 2 and len(r.calls) == 1 for r in records)
    assert sum(r.calls[0]["executed"] for r in records) == 180
    # free-text key points: the deterministic checker leaves them unjudged
    assert all(c["passed"] is None for r in records for c in r.checks)


def tiny_release(root: Path, with_pickle: bool = True) -> Path:
    (root / "data/instruction").mkdir(parents=True)
    (root / "profile").mkdir()
    (root / "data/instruction/instruction.json").write_text(json.dumps([{
        "timestamp": "2024-09-06 07:00:00", "query": "Turn on the lights.", "location": "Home",
        "keypoint for personal": ["Use the preferred brightness."], "keypoint for proactive": [],
        "available_tools_name": ["control_light_in_home", "teleport"]}]))
    (root / "profile/profiles.json").write_text(json.dumps({"Ann Lee": {"DemographicData": {
        "BasicInformation": {"Name": "Ann Lee", "Location": "Boston"}}}}))
    if with_pickle:
        (root / "database/Weather").mkdir(parents=True)
        marker = root / "UNPICKLED"
        (root / "database/Weather/weather.pkl").write_bytes(pickle.dumps(_Marker(str(marker))))
    return root


class _Marker:
    """Unpickling this object would create a file: proof that the importer never unpickles."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


def test_pickles_reported_never_opened_and_missing_files_listed(tmp_path: Path) -> None:
    root = tiny_release(tmp_path / "rel")
    suite = load_etapp_suite(root)
    assert not (root / "UNPICKLED").exists()
    statuses = {s.path: s.status for s in suite.import_report.sources}
    assert statuses["database/Weather/weather.pkl"] == "pickled"
    assert statuses["database/Calendar/events/events_Ann_Lee.csv"] == "missing"
    assert statuses["profile/concrete_profile/profile_Ann_Lee.json"] == "missing"
    text = suite.import_report.text()
    assert "PICKLED" in text and "never unpickled" in text and "teleport" in text
    [case] = suite.cases
    assert case.instruction.tools == ["control_light_in_home"] and case.user.id == "ann_lee"
    with suite.open_world(case) as world:
        assert "result" in world.call("control_light_in_home", {"action": "on", "location": "bedroom"})


def test_not_a_release_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EtappImportError, match="instruction.json is missing"):
        load_etapp_suite(tmp_path)
    with pytest.raises(EtappImportError, match="not found"):
        load_etapp_suite(tmp_path / "nope")


def full_size_release(root: Path) -> Path:
    """A release shaped like the full upstream one (16 users x 50 instructions), linked from the sample."""
    personas = json.loads((SAMPLE / "profile/profiles.json").read_text())
    names = list(personas)
    clones = {f"{name} {chr(65 + i // len(names))}" if i >= len(names) else name: name
              for i, name in ((i, names[i % len(names)]) for i in range(16))}
    (root / "profile/concrete_profile").mkdir(parents=True)
    (root / "profile/profiles.json").write_text(json.dumps({new: personas[old] for new, old in clones.items()}))
    for path in SAMPLE.rglob("*"):
        if path.is_file() and not path.name.startswith(("profile", "ABOUT")) and "instruction" not in path.name:
            rel = path.relative_to(SAMPLE)
            stem = next((old.replace(" ", "_") for old in names if path.stem.endswith(old.replace(" ", "_"))), None)
            targets = [rel] if stem is None else [
                rel.with_name(path.name.replace(stem, new.replace(" ", "_"))) for new, old in clones.items()
                if old.replace(" ", "_") == stem]
            for target in targets:
                (root / target).parent.mkdir(parents=True, exist_ok=True)
                (root / target).symlink_to(path)
    for new, old in clones.items():
        source = SAMPLE / f"profile/concrete_profile/profile_{old.replace(' ', '_')}.json"
        (root / f"profile/concrete_profile/profile_{new.replace(' ', '_')}.json").symlink_to(source)
    instructions = json.loads((SAMPLE / "data/instruction/instruction.json").read_text())
    (root / "data/instruction").mkdir(parents=True)
    (root / "data/instruction/instruction.json").write_text(json.dumps((instructions * 2)[:50]))
    return root


@needs_sample
def test_full_size_release_gives_800_cases(tmp_path: Path) -> None:
    suite = load_etapp_suite(full_size_release(tmp_path / "full"))
    assert len(suite.users) == 16 and len(suite.instructions) == 50 and len(suite.cases) == 800
    assert not [s for s in suite.import_report.problems() if "concrete" in s.path or "events_" in s.path]
    clone = next(u for u in suite.users if u.name.endswith(" B"))
    case = next(c for c in suite.cases if c.user.id == clone.id)
    with suite.open_world(case) as world:
        assert world.query("SELECT COUNT(*) AS n FROM emails")[0]["n"] > 50


EVENTS = "database/Calendar/events/events_Ann_Lee.csv"
EVENTS_HEADER = "id,title,description,start_time,end_time,reminder\n"
EVENT = "1,Dentist,,2024-09-06 10:00:00,2024-09-06 11:00:00,None\n"


def test_a_csv_with_a_garbage_header_or_cut_off_rows_is_not_reported_as_found(tmp_path: Path) -> None:
    root = tiny_release(tmp_path / "rel", with_pickle=False)
    (root / EVENTS).parent.mkdir(parents=True)
    (root / EVENTS).write_text("\x89PNG garbage,,\x00\n" + EVENT)
    source = next(s for s in load_etapp_suite(root).import_report.sources if s.path == EVENTS)
    assert source.status == "unreadable" and "header lacks" in source.note and "start_time" in source.note
    (root / EVENTS).write_text(EVENTS_HEADER + EVENT + EVENT.replace("1,", "2,", 1)[:25])  # cut mid-row
    suite = load_etapp_suite(root)
    source = next(s for s in suite.import_report.sources if s.path == EVENTS)
    assert source.status == "truncated" and "1 rows with a wrong number of cells" in source.note
    assert "TRUNCATED" in suite.import_report.text()
    with suite.open_world(suite.cases[0]) as world:  # the complete row is kept, the cut one is not guessed
        assert [e["id"] for e in world.query("SELECT id FROM events")] == [1]


def test_malformed_tools_are_refused_early_naming_the_field(tmp_path: Path) -> None:
    root = tiny_release(tmp_path / "rel", with_pickle=False)
    (root / "toolkit/Home").mkdir(parents=True)
    (root / "toolkit/Home/config.json").write_text(json.dumps(
        [{"type": "function", "function": {"name": "control_light_in_home", "parameters": "none"}}]))
    suite = load_etapp_suite(root)
    source = next(s for s in suite.import_report.sources if s.path == "toolkit/Home/config.json")
    assert source.status == "unreadable" and "[0].function.parameters" in source.note
    assert suite.instructions[0].tools == ["control_light_in_home"]  # still mapped by name
    instructions = root / "data/instruction/instruction.json"
    raw = json.loads(instructions.read_text())
    for tools in (["control_light_in_home", {"name": "x"}], "control_light_in_home", None):
        instructions.write_text(json.dumps([raw[0] | {"available_tools_name": tools}]))
        with pytest.raises(EtappImportError, match=r"instruction.json\[0\].available_tools_name: expected a list"):
            load_etapp_suite(root)
    instructions.write_text(json.dumps([raw[0] | {"timestamp": "next tuesday"}]))
    with pytest.raises(EtappImportError, match=r"instruction.json\[0\].timestamp"):
        load_etapp_suite(root)
