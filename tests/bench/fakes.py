"""A stand-in world and suite with the sandbox's public shape, for harness tests independent of its data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


def _schema(name: str, description: str, properties: dict, required: list[str]) -> dict:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {
        "type": "object", "properties": properties, "required": required}}}


SCHEMAS = [
    _schema("play_music", "Play a track.", {"music_name": {"type": "string"}, "volume_level": {"type": "integer"}},
            ["music_name", "volume_level"]),
    _schema("get_music_list_in_favorites", "List favourite tracks.", {}, []),
    _schema("set_light", "Set a light's brightness.", {"brightness": {"type": "integer"}}, ["brightness"]),
    _schema("search_tools", "Find tools by keywords.", {"query": {"type": "string"}}, ["query"]),
    _schema("get_tool_doc", "Documentation of a tool.", {"name": {"type": "string"}}, ["name"]),
]


class FakeWorld:
    """Validates arguments against the schema like the sandbox World does, never raises."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict, dict]] = []
        self.played: list[dict] = []
        self.closed = False

    def tool_schemas(self, names: list[str] | None = None) -> list[dict]:
        by_name = {s["function"]["name"]: s for s in SCHEMAS}
        return list(by_name.values()) if names is None else [by_name[n] for n in names]

    def call(self, name: str, arguments: dict | str) -> dict:
        response = self._call(name, arguments)
        self.calls.append((name, arguments if isinstance(arguments, dict) else {}, response))
        return response

    def _call(self, name: str, arguments: dict | str) -> dict:
        schema = {s["function"]["name"]: s for s in SCHEMAS}.get(name)
        if schema is None:
            return {"error": {"type": "unknown_tool", "message": name}}
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments)
            except json.JSONDecodeError:
                return {"error": {"type": "invalid_json", "message": "arguments"}}
        if not isinstance(arguments, dict):
            return {"error": {"type": "invalid_arguments", "message": "not an object"}}
        params = schema["function"]["parameters"]
        for key in params["required"]:
            if key not in arguments:
                return {"error": {"type": "missing_argument", "message": key}}
        for key, value in arguments.items():
            spec = params["properties"].get(key)
            if spec is None:
                return {"error": {"type": "unexpected_argument", "message": key}}
            if spec["type"] == "integer" and (not isinstance(value, int) or isinstance(value, bool)):
                return {"error": {"type": "wrong_type", "message": key}}
            if spec["type"] == "string" and not isinstance(value, str):
                return {"error": {"type": "wrong_type", "message": key}}
        if name == "search_tools":
            words = arguments["query"].lower().split()
            hits = [s["function"]["name"] for s in SCHEMAS if any(w in s["function"]["name"] for w in words)]
            return {"result": [{"name": h} for h in hits]}
        if name == "get_tool_doc":
            return {"result": {"name": arguments["name"], "doc": "..."}}
        if name == "play_music":
            self.played.append(arguments)
            return {"result": "playing"}
        if name == "get_music_list_in_favorites":
            return {"result": [{"title": "Clair de Lune"}]}
        return {"result": "ok"}

    def diff(self) -> dict:
        return {"played": list(self.played)}

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeUser:
    id: str


@dataclass
class FakeInstruction:
    id: str
    query: str
    apps: list[str]
    tools: list[str]
    keypoints: list = field(default_factory=list)


@dataclass
class FakeCase:
    id: str
    instruction: FakeInstruction
    user: FakeUser


@dataclass
class FakeCheck:
    keypoint_id: str
    passed: bool | None
    reason: str


def fake_check(case: FakeCase, messages: list[dict], world: FakeWorld) -> list[FakeCheck]:
    """Passes when music was played at volume 35 (the stand-in user's preference)."""
    ok = any(p.get("volume_level") == 35 for p in world.played)
    return [FakeCheck("volume", ok, "volume 35" if ok else "no play at volume 35"),
            FakeCheck("suggest", None, "free text")]


class FakeSuite:
    name = "fake"

    def __init__(self, n_users: int = 2, n_instructions: int = 3) -> None:
        self.cases = [
            FakeCase(f"music-{i}@u{u}", FakeInstruction(f"music-{i}", "Play some music I like.", ["music"],
                                                        ["play_music", "get_music_list_in_favorites"]),
                     FakeUser(f"u{u}"))
            for i in range(n_instructions) for u in range(n_users)
        ]
        self.users = sorted({c.user.id for c in self.cases})
        self.opened: list[FakeWorld] = []

    def open_world(self, case: FakeCase) -> FakeWorld:
        world = FakeWorld()
        self.opened.append(world)
        return world


def fake_opening(case: FakeCase, include_profile: bool) -> list[dict]:
    system = "You are a personal assistant." + (" The user likes volume 35." if include_profile else "")
    return [{"role": "system", "content": system}, {"role": "user", "content": case.instruction.query}]
