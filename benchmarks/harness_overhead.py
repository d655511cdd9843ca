"""Cost of the benchmark harness itself, measured against references taken in the same run.

1. Harness time per tool step with an instant scripted model (runner + strategy + toolbox + world +
   checks + durable store), next to the raw `World.call` time of the same calls.
2. Concurrency efficiency: 32 requests in flight against a local OpenAI-compatible server that
   answers after 200 ms (in a child process); achieved request throughput / ideal (32 / measured
   single-request latency), next to the HTTP client alone sending the very requests the harness sent
   (recorded in an untimed run), interleaved over --repeats runs; the median ratio is what the harness keeps.

Usage: .venv/bin/python benchmarks/harness_overhead.py [--suite builtin] [--cases 40] [--episodes 96] [--repeats 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.bench.openai_server import SubprocessStubServer  # noqa: E402
from tooltune.bench.config import RunConfig  # noqa: E402
from tooltune.bench.runner import Runner, sandbox_harness  # noqa: E402
from tooltune.bench.store import RunStore  # noqa: E402
from tooltune.bench.suites import load_suite  # noqa: E402
from tooltune.models.base import ChatModel  # noqa: E402
from tooltune.models.openai_http import OpenAIChatModel  # noqa: E402
from tooltune.models.scripted import ScriptedModel  # noqa: E402
from tooltune.models.types import AssistantMessage, ToolCall  # noqa: E402


def tool_loop_policy(messages, tools):
    """Call the offered tools in turn with no arguments; the episode runs until max_turns."""
    calls = sum(1 for m in messages if m.get("role") == "tool")
    name = tools[calls % len(tools)]["function"]["name"]
    return AssistantMessage(tool_calls=[ToolCall(id="c", name=name, arguments={})])


def harness_per_step(suite, n_cases: int, turns: int) -> None:
    config = RunConfig(model="scripted", limit=n_cases, max_turns=turns, batch_size=8)
    for case in {c.user.id: c for c in suite.cases}.values():
        suite.open_world(case).close()  # build the suite's per-user templates (cached) before timing
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(tmp)
        runner = Runner(ScriptedModel(tool_loop_policy), suite, config, store, sandbox_harness(suite), progress=False)
        start = time.perf_counter()
        runner.run()
        wall = time.perf_counter() - start
        records = list(store.records())
        store.close()
    steps = sum(len(r.calls) for r in records)
    # reference: the same calls straight on fresh worlds, no harness around them
    cases = {c.id: c for c in suite.cases}
    start = time.perf_counter()
    for record in records:
        with suite.open_world(cases[record.key.case_id]) as world:
            for call in record.calls:
                world.call(call["name"], call["arguments"])
    raw = time.perf_counter() - start
    print(f"[1] {len(records)} episodes, {steps} tool steps, instant scripted model")
    print(f"    harness per tool step: {1000 * wall / steps:.3f} ms   (whole episode loop incl. world, checks, store)")
    print(f"    raw World.call per step: {1000 * raw / steps:.3f} ms   (same calls, fresh worlds, no harness)")
    print(f"    ratio harness / raw: {wall / raw:.2f}x")


def answer_after_tool(body: dict) -> dict:
    if body["messages"][-1]["role"] == "tool" or not body.get("tools"):
        return {"content": "Done."}
    name = body["tools"][0]["function"]["name"]
    return {"content": None, "tool_calls": [{"id": "c1", "type": "function",
                                             "function": {"name": name, "arguments": "{}"}}]}


class RecordingModel(ChatModel):
    """Passes every request on to `model` and keeps it, so that the reference can send the very same ones."""

    name = "recorder"

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.requests: list[tuple] = []

    def chat(self, messages, tools=None, config=None, **options):
        raise NotImplementedError("asynchronous only")

    async def achat(self, messages, tools=None, config=None, **options):
        self.requests.append((list(messages), tools, config, options))
        return await self.model.achat(messages, tools, config, **options)


def concurrency_efficiency(suite, episodes: int, in_flight: int, delay: float, repeats: int) -> None:
    config = RunConfig(model="stub", limit=episodes, concurrency=in_flight)

    def harness_run(model: ChatModel) -> tuple[float, int, dict]:
        with tempfile.TemporaryDirectory() as tmp:
            runner = Runner(model, suite, config, RunStore(tmp), sandbox_harness(suite), progress=False)
            start = time.perf_counter()
            counts = runner.run()
            wall = time.perf_counter() - start
            requests = sum(r.turns for r in runner.store.records())
            runner.store.close()
        return requests / wall, requests, counts

    with SubprocessStubServer(answer_after_tool, delay=delay) as server:
        model = OpenAIChatModel(server.base_url, "stub")
        hello = [([{"role": "user", "content": "hi"}], None, None, {})]
        model.chat(hello[0][0])  # warm the connection
        asyncio.run(model.achat(hello[0][0]))  # and the async stack (its imports happen on first use)
        start = time.perf_counter()
        for _ in range(5):
            model.chat(hello[0][0])
        latency = (time.perf_counter() - start) / 5
        recorder = RecordingModel(model)
        harness_run(recorder)  # untimed: records the requests the harness sends, for the reference
        same = recorder.requests
        rows = []
        for _ in range(repeats):  # interleaved, so that both sides see the same machine load
            client = len(same) / asyncio.run(_client_only(model, in_flight, same))
            minimal = len(same) / asyncio.run(_client_only(model, in_flight, hello * len(same)))
            achieved, requests, counts = harness_run(model)
            rows.append((achieved, client, minimal))
        model.close()
    ideal = in_flight / latency
    print(f"[2] {counts['done']} episodes ({requests} requests), {in_flight} in flight, server delay "
          f"{delay * 1000:.0f} ms, {repeats} interleaved repeats")
    print(f"    single-request latency (sequential): {latency * 1000:.1f} ms; ideal {ideal:.1f} req/s")
    for achieved, client, minimal in rows:
        print(f"    harness {achieved:.1f} req/s; HTTP client alone, same requests {client:.1f} req/s "
              f"(minimal 'hi' requests {minimal:.1f}) -> harness keeps {achieved / client:.2f}")
    achieved, client, minimal = (statistics.median(column) for column in zip(*rows))
    print(f"    median: harness {achieved:.1f} req/s, efficiency {achieved / ideal:.2f}; the HTTP client alone sending "
          f"the same requests {client:.1f} req/s, efficiency {client / ideal:.2f}; "
          f"harness keeps {achieved / client:.2f} of it ({achieved / minimal:.2f} of the client sending minimal 'hi' "
          "requests)")


async def _client_only(model: OpenAIChatModel, in_flight: int, requests: list[tuple]) -> float:
    """Wall time of `in_flight` workers sending `requests` (messages, tools, config, options) back to back."""
    queue = iter(requests)

    async def worker() -> None:
        for messages, tools, config, options in queue:
            await model.achat(messages, tools, config, **options)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="builtin")
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--episodes", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=5, help="Interleaved harness / reference runs (median).")
    args = parser.parse_args()
    suite = load_suite(args.suite)
    harness_per_step(suite, args.cases, args.turns)
    concurrency_efficiency(suite, args.episodes, 32, 0.2, args.repeats)


if __name__ == "__main__":
    main()
