"""A user's sandbox world as a Model Context Protocol server: any MCP client's agent can work in it.

`SandboxEpisode` is one episode (a pristine world for the user, the clock at the case's time): it offers the
case's tools (all tools without a case), runs every call through `World.call` (argument validation,
a SAVEPOINT per call) and, with a case, adds a `check` tool that scores the episode so far against the
case's checkable key points. `mcp_server` wraps it in the MCP SDK's low-level server (tool schemas are
the world's own JSON schemas); `serve_stdio` serves it over stdin/stdout.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from tooltune.errors import UsageError
from tooltune.sandbox.cases import Case
from tooltune.sandbox.catalogue import BASE_DATE
from tooltune.sandbox.checks import check_keypoints
from tooltune.sandbox.prompts import episode_messages
from tooltune.sandbox.suite import Suite, builtin_suite
from tooltune.sandbox.users import get_user
from tooltune.sandbox.world import World, error_response

if TYPE_CHECKING:
    from mcp.server import Server

CHECK_TOOL = "check"
DEFAULT_NOW = f"{BASE_DATE.isoformat()} 09:00:00"
"""The world's clock when no case is given (the morning of the sandbox's 'today')."""


class EpisodeChoiceError(UsageError):
    """The user or case to serve does not exist; the message names the option."""


class SandboxEpisode:
    """One episode of one user's world: the offered tools, every call through `World.call`, the check."""

    def __init__(self, world: World, case: Case | None = None) -> None:
        self.world, self.case = world, case
        names = case.instruction.tools if case is not None else list(world.tools)
        self.offered = [n for n in names if n in world.tools]
        if case is not None and CHECK_TOOL in world.tools:
            raise EpisodeChoiceError(f"the world has a tool named {CHECK_TOOL!r}, which would hide the check")

    def tool_schemas(self) -> list[dict[str, Any]]:
        """OpenAI function schemas of the offered tools, plus `check` when there is a case."""
        schemas = self.world.tool_schemas(self.offered)
        if self.case is not None:
            schemas.append(check_schema())
        return schemas

    def call(self, name: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
        """{"result": ...} or {"error": ...}: `check`, an offered tool (through the world), or an unknown tool."""
        if name == CHECK_TOOL and self.case is not None:
            answer = (arguments or {}).get("answer", "")
            if not isinstance(answer, str):
                return error_response("invalid_arguments", "argument 'answer': must be a string")
            return {"result": self.check(answer)}
        if name not in self.offered:
            return error_response("unknown_tool", f"no tool named {name!r} is offered in this episode")
        return self.world.call(name, arguments)

    def trajectory(self, answer: str = "") -> list[dict[str, Any]]:
        """The episode as OpenAI messages: the case's start, each call with its result, the final answer."""
        messages = episode_messages(self._case())
        for index, (name, arguments, response) in enumerate(self.world.calls, 1):
            call = {"id": f"call_{index}", "type": "function",
                    "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}
            messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
            messages.append({"role": "tool", "tool_call_id": call["id"], "name": name,
                             "content": json.dumps(response, ensure_ascii=False)})
        if answer:
            messages.append({"role": "assistant", "content": answer})
        return messages

    def check(self, answer: str = "") -> dict[str, Any]:
        """Checkable key points decided on the calls so far, the end state and `answer`; free-text ones
        are listed as needing a judge. `passed`: every checkable key point passed."""
        case = self._case()
        results = check_keypoints(case, self.trajectory(answer), self.world)
        decided = [r for r in results if r.passed is not None]
        rows = [{"id": r.keypoint_id, "passed": r.passed, "reason": r.reason} for r in results]
        return {"case": case.id, "passed": bool(decided) and all(r.passed for r in decided),
                "checked": len(decided), "failed": sum(not r.passed for r in decided), "keypoints": rows}

    def _case(self) -> Case:
        if self.case is None:
            raise EpisodeChoiceError("--case: checking key points needs a case")
        return self.case

    def instructions(self) -> str:
        """What the client's agent should know: the case's system prompt and request, or the world's clock."""
        if self.case is None:
            return f"The sandbox world of one user; current time {self.world.now:%Y-%m-%d %H:%M}."
        system, user = episode_messages(self.case)
        return f"{system['content']}\n\nRequest: {user['content']}\n\nWhen done, call `{CHECK_TOOL}` with your answer."


def check_schema() -> dict[str, Any]:
    """The `check` tool's schema."""
    parameters = {"type": "object", "properties": {"answer": {
        "type": "string", "description": "Your final answer to the user (some key points read it)."}}}
    return {"type": "function", "function": {
        "name": CHECK_TOOL, "parameters": parameters,
        "description": "Score the episode so far against the case's checkable key points (does not change the world)."}}


def open_episode(user: str, case_id: str | None = None, suite: Suite | None = None) -> SandboxEpisode:
    """A fresh episode for `user` (id or name) and, when given, the case `case_id` (`<instruction>@<user>`
    or just the instruction id)."""
    suite = suite or builtin_suite()
    try:
        profile = get_user(user, suite.users)
    except KeyError as error:
        raise EpisodeChoiceError(f"--user: {error.args[0]}") from None
    if not case_id:
        template, start = suite.template(profile)
        return SandboxEpisode(World(template, DEFAULT_NOW, tools=suite.tools(), start=start))
    instruction, _, case_user = case_id.partition("@")
    if case_user and case_user != profile.id:
        raise EpisodeChoiceError(f"--case: {case_id!r} is a case of {case_user!r}, not of --user {profile.id!r}")
    try:
        case = suite.case(f"{instruction}@{profile.id}")
    except KeyError:
        raise EpisodeChoiceError(f"--case: no case {instruction!r} for {profile.id} "
                                 f"(see `tooltune sandbox list-cases --user {profile.id}`)") from None
    return SandboxEpisode(suite.open_world(case), case)


def mcp_server(episode: SandboxEpisode) -> Server:
    """The MCP SDK's low-level server over `episode`: tools/list gives the world's schemas, tools/call the
    world's JSON response (text, and structured), flagged as an error when the world refused the call."""
    import mcp_types as types
    from mcp.server import Server

    tools = [types.Tool(name=s["function"]["name"], description=s["function"].get("description", ""),
                        input_schema=s["function"]["parameters"]) for s in episode.tool_schemas()]

    async def list_tools(_context: Any, _params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(_context: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        response = episode.call(params.name, params.arguments)
        text = types.TextContent(text=json.dumps(response, ensure_ascii=False))
        return types.CallToolResult(content=[text], structured_content=response, is_error="error" in response)

    return Server("tooltune-sandbox", instructions=episode.instructions(),
                  on_list_tools=list_tools, on_call_tool=call_tool)


def serve_stdio(episode: SandboxEpisode) -> None:
    """Serve `episode` over this process's stdin/stdout until the client closes the connection."""
    import anyio
    from mcp.server.stdio import stdio_server

    server = mcp_server(episode)

    async def serve() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    anyio.run(serve)
