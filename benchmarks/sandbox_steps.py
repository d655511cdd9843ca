"""Sandbox throughput: tool steps per second through model -> agent loop -> World, and all gold episodes.

A ScriptedModel replays each case's gold tool calls; a minimal function-calling loop sends them through
`World.call` (JSON decoding, schema validation, SAVEPOINT, SQLite) and appends the observations, then
the key points are checked. References measured in the same run: the same calls made on `World.call`
directly (no model, no messages) and a bare SQLite `SELECT` on the same in-memory database.

    .venv/bin/python benchmarks/sandbox_steps.py            # all cases
    .venv/bin/python benchmarks/sandbox_steps.py --cases 200
"""

from __future__ import annotations

import argparse
import json
import time

from tooltune.models.scripted import ScriptedModel
from tooltune.models.types import AssistantMessage, ToolCall
from tooltune.sandbox.checks import check_keypoints
from tooltune.sandbox.prompts import episode_messages
from tooltune.sandbox.reference import gold_trajectory
from tooltune.sandbox.suite import builtin_suite


def scripted_replies(gold: list[dict]) -> list[AssistantMessage]:
    """The assistant turns of a gold trajectory as model answers."""
    replies = []
    for message in gold:
        if message["role"] != "assistant":
            continue
        calls = [ToolCall(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
                 for c in message.get("tool_calls") or []]
        replies.append(AssistantMessage(content=message["content"], tool_calls=calls))
    return replies


def run_loop(model: ScriptedModel, world, messages: list[dict], tools: list[dict], max_turns: int = 20) -> int:
    """A minimal function-calling agent loop; returns the number of tool steps."""
    steps = 0
    for _ in range(max_turns):
        reply = model.chat(messages, tools)
        messages.append(reply.to_openai())
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            response = world.call(call.name, call.arguments)
            messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name,
                             "content": json.dumps(response, ensure_ascii=False)})
            steps += 1
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=0, help="only the first N cases (0 = all)")
    args = parser.parse_args()

    started = time.perf_counter()
    suite = builtin_suite()
    cases = suite.cases[: args.cases] if args.cases else suite.cases
    for user in suite.users:
        suite.template(user)
    print(f"{len(cases)} cases, {len(suite.users)} user templates built in {time.perf_counter() - started:.2f} s")

    started = time.perf_counter()
    golds = {}
    for case in cases:
        with suite.open_world(case) as world:
            golds[case.id] = gold_trajectory(case, world)
            check_keypoints(case, golds[case.id], world)
    gold_seconds = time.perf_counter() - started
    print(f"gold episodes (reference policy + key-point checks): {gold_seconds:.2f} s for {len(cases)} "
          f"({1000 * gold_seconds / len(cases):.2f} ms per episode)")

    started = time.perf_counter()
    for case in cases:
        suite.open_world(case).close()
    open_seconds = time.perf_counter() - started

    steps, failed, check_seconds = 0, 0, 0.0
    started = time.perf_counter()
    for case in cases:
        model = ScriptedModel(scripted_replies(golds[case.id]))
        with suite.open_world(case) as world:
            messages = episode_messages(case)
            steps += run_loop(model, world, messages, world.tool_schemas(case.instruction.tools))
            checked = time.perf_counter()
            failed += sum(r.passed is False for r in check_keypoints(case, messages, world))
            check_seconds += time.perf_counter() - checked
    loop_seconds = time.perf_counter() - started - check_seconds - open_seconds

    calls = [(c["function"]["name"], json.loads(c["function"]["arguments"]))
             for case in cases for m in golds[case.id] for c in m.get("tool_calls") or []]
    started = time.perf_counter()
    index = 0
    for case in cases:
        with suite.open_world(case) as world:
            for _ in [m for m in golds[case.id] if m.get("tool_calls")]:
                world.call(*calls[index])
                index += 1
    direct_seconds = time.perf_counter() - started

    with suite.open_world(cases[0]) as world:
        started = time.perf_counter()
        for _ in range(steps):
            world.db.execute("SELECT * FROM events WHERE start_time < ? LIMIT 5", ("2024-09-07",)).fetchall()
        sqlite_seconds = time.perf_counter() - started

    loop_rate = steps / loop_seconds
    direct_rate = steps / (direct_seconds - open_seconds)
    print(f"scripted-model episodes: {steps} tool steps in {loop_seconds:.2f} s = {loop_rate:,.0f} steps/s "
          f"(world opening and checks excluded; {failed} key points failed on replay)")
    print(f"key-point checks: {1000 * check_seconds / len(cases):.2f} ms per episode")
    print(f"reference, World.call alone: {direct_rate:,.0f} steps/s -> the model loop costs "
          f"{direct_rate / loop_rate:.2f}x a bare World.call step")
    print(f"reference, bare SQLite SELECT: {steps / sqlite_seconds:,.0f} /s -> a validated, savepointed tool step "
          f"costs {(steps / sqlite_seconds) / direct_rate:.1f}x a raw query")
    print(f"opening a pristine world (backup API): {1000 * open_seconds / len(cases):.2f} ms per episode")


if __name__ == "__main__":
    main()
