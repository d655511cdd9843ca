"""The sandbox over MCP: an MCP client starts `tooltune sandbox serve-mcp` as a subprocess, completes a case
with the gold calls over a real stdio connection, and the `check` tool passes; a wrong call leaves it failing."""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
import pytest

from tooltune.sandbox.checks import extract_calls, final_answer
from tooltune.sandbox.mcp_server import CHECK_TOOL, EpisodeChoiceError, open_episode
from tooltune.sandbox.reference import gold_trajectory
from tooltune.sandbox.suite import Suite

CASE = "music-play-01@maya_chen"


def gold_calls(suite: Suite, case_id: str) -> tuple[list[tuple[str, dict]], str]:
    """The reference solver's calls (name, arguments) and final answer for the case."""
    messages = gold_trajectory(suite.case(case_id))
    return [(c.name, c.arguments) for c in extract_calls(messages)], final_answer(messages)


def test_gold_calls_pass_the_check_and_a_wrong_call_fails_it(suite: Suite) -> None:
    calls, answer = gold_calls(suite, CASE)
    gold = open_episode("maya_chen", "music-play-01", suite)
    for name, arguments in calls:
        assert "result" in gold.call(name, arguments)
    report = gold.call(CHECK_TOOL, {"answer": answer})["result"]
    assert report["passed"] and report["checked"] >= 1 and report["failed"] == 0
    wrong = open_episode("Maya Chen", CASE, suite)
    name, arguments = calls[-1]
    wrong.call(name, {**arguments, **{k: 1 for k, v in arguments.items() if isinstance(v, (int, float))}})
    report = wrong.call(CHECK_TOOL, {})["result"]
    assert not report["passed"] and report["failed"] >= 1


def test_only_the_cases_tools_are_offered_and_refusals_leave_the_world_unchanged(suite: Suite) -> None:
    episode = open_episode("maya_chen", CASE, suite)
    names = [s["function"]["name"] for s in episode.tool_schemas()]
    assert names == suite.case(CASE).instruction.tools + [CHECK_TOOL]
    other = next(t for t in episode.world.tools if t not in names)
    assert episode.call(other, {})["error"]["type"] == "unknown_tool"
    assert episode.call(names[0], {"no_such_argument": 1})["error"]["type"] == "invalid_arguments"
    assert episode.world.diff() == {}
    assert CHECK_TOOL not in [s["function"]["name"] for s in open_episode("maya_chen", None, suite).tool_schemas()]


@pytest.mark.parametrize("user, case, field", [("nobody", None, "--user"), ("maya_chen", "nope", "--case"),
                                                ("maya_chen", "music-play-01@grace_kim", "--case")])
def test_bad_choices_name_the_option(suite: Suite, user: str, case: str | None, field: str) -> None:
    with pytest.raises(EpisodeChoiceError, match=field):
        open_episode(user, case, suite)


async def _over_stdio(calls: list[tuple[str, dict]], answer: str) -> tuple[list[str], list[Any], dict]:
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    server = StdioServerParameters(command=sys.executable, args=[
        "-m", "tooltune.cli", "sandbox", "serve-mcp", "--user", "maya_chen", "--case", CASE])
    async with Client(server, read_timeout_seconds=120) as client:
        listed = [tool.name for tool in (await client.list_tools()).tools]
        results = [await client.call_tool(name, arguments) for name, arguments in calls]
        check = await client.call_tool(CHECK_TOOL, {"answer": answer})
    return listed, results, json.loads(check.content[0].text)


def test_an_mcp_client_completes_a_case_over_stdio(suite: Suite) -> None:
    calls, answer = gold_calls(suite, CASE)
    listed, results, check = anyio.run(_over_stdio, calls, answer)
    assert listed == suite.case(CASE).instruction.tools + [CHECK_TOOL]
    assert results and not any(r.is_error for r in results)
    assert check["result"]["passed"] and check["result"]["checked"] >= 1
    wrong_calls = [(calls[0][0], {"no_such_argument": 1})]
    _, results, check = anyio.run(_over_stdio, wrong_calls, "")
    assert results[0].is_error and "invalid_arguments" in results[0].content[0].text
    assert not check["result"]["passed"]
