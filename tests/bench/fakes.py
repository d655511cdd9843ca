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


def first_tool_then_answer(messages: list[dict], tools: list[dict] | None):
    """Call the first offered tool with no arguments, then answer (two turns per episode)."""
    from tooltune.models.types import AssistantMessage, ToolCall

    if messages[-1]["role"] == "tool" or not tools:
        return AssistantMessage(content="Done.")
    return AssistantMessage(tool_calls=[ToolCall(id="c", name=tools[0]["function"]["name"], arguments={})])


def judge_answer(messages: list[dict], tools: list[dict] | None):
    """A valid verdict for whatever key points the judge prompt lists (score 3 everywhere)."""
    import re

    from tests.bench.test_judge import verdict
    from tooltune.models.types import AssistantMessage

    text = messages[1]["content"]
    personal = int(re.search(r"Personalization key points \((\d+)\)", text).group(1))
    proactive = int(re.search(r"Proactivity key points \((\d+)\)", text).group(1))
    return AssistantMessage(content=json.dumps(verdict(3, personal, proactive)))


def unreachable(messages: list[dict], tools: list[dict] | None):
    """Fails as an HTTP backend does once its retries are spent."""
    from tooltune.models.base import ModelError

    raise ModelError("http://10.255.255.1/v1/chat/completions: gave up after 5 attempts; last error: timed out")


def fake_load_model(spec: str, **options):
    """Stand-in for `tooltune.models.registry.load_model`: scripted agents and judges, no weights, no network.

    scripted: `first_tool_then_answer`; judge: valid verdicts; down / judge-down: every call fails (ModelError);
    anything else is an unknown model, as the real registry says.
    """
    from tooltune.models.base import ModelError
    from tooltune.models.scripted import ScriptedModel

    if spec == "scripted":
        return ScriptedModel(first_tool_then_answer)
    if spec == "judge":
        return ScriptedModel(judge_answer)
    if spec in ("down", "judge-down"):
        return ScriptedModel(unreachable)
    raise ModelError(f"unknown model {spec!r}: expected smollm2 | PATH | openai:URL#MODEL")
