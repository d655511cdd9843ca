"""Fuzz: thousands of malformed tool calls through the full agent loop (runner, strategies, world, store)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tests.bench.fakes import FakeSuite, fake_check, fake_opening
from tests.bench.fuzz import malformed_fc_answer, malformed_react_text
from tooltune.bench.config import RunConfig
from tooltune.bench.runner import Harness, Runner
from tooltune.bench.store import RunStore
from tooltune.models.scripted import ScriptedModel
from tooltune.models.types import AssistantMessage

TOOLS = ["play_music", "get_music_list_in_favorites", "set_light", "search_tools", "get_tool_doc"]


def fuzz_model(seed: int) -> ScriptedModel:
    rng = random.Random(seed)

    def policy(messages, tools):
        if tools is None:  # ReAct (and the planning turn): text only
            return AssistantMessage(content=malformed_react_text(rng, TOOLS))
        return malformed_fc_answer(rng, TOOLS)

    return ScriptedModel(policy)


def count_error_observations(records) -> int:
    total = 0
    for record in records:
        total += len(record.malformed)
        total += sum("error" in call["response"] for call in record.calls)
    return total


def test_fuzz_thousand_malformed_calls_no_crash(tmp_path: Path) -> None:
    suite = FakeSuite(n_users=2, n_instructions=4)
    config = RunConfig(model="fuzz", strategies=["fc", "react", "plan"], settings=["given", "retrieval"],
                       max_turns=20, batch_size=6)
    store = RunStore(tmp_path)
    runner = Runner(fuzz_model(7), suite, config, store, Harness(suite.open_world, fake_opening, fake_check),
                    progress=False)
    counts = runner.run()
    assert counts["failed"] == 0, store.failures()
    records = list(store.records())
    assert len(records) == 48 and all(r.finish_reason == "max_turns" for r in records)
    errors = count_error_observations(records)
    print(f"error observations: {errors}")
    assert errors >= 1000, errors
    # every trajectory stays valid JSON-serialisable OpenAI messages, each tool message answers a call
    for record in records:
        json.dumps(record.trajectory)
        ids = {c["id"] for m in record.trajectory for c in m.get("tool_calls") or []}
        assert all(m["tool_call_id"] in ids for m in record.trajectory if m["role"] == "tool")


def test_fuzz_against_the_real_sandbox_world(tmp_path: Path) -> None:
    from tooltune.sandbox.suite import builtin_suite

    suite = builtin_suite()
    names = sorted({n for c in suite.cases for n in c.instruction.tools})
    rng = random.Random(11)

    def policy(messages, tools):
        if tools is None:
            return AssistantMessage(content=malformed_react_text(rng, names))
        return malformed_fc_answer(rng, names + [t["function"]["name"] for t in tools])

    config = RunConfig(model="fuzz", strategies=["fc", "react", "plan"], settings=["given", "retrieval"],
                       limit=6, seed=2, max_turns=20, batch_size=12)
    store = RunStore(tmp_path)
    counts = Runner(ScriptedModel(policy), suite, config, store, progress=False).run()
    assert counts == {"done": 36, "failed": 0, "skipped": 0}, store.failures()
    records = list(store.records())
    errors = count_error_observations(records)
    print(f"error observations against the sandbox: {errors}")
    assert errors >= 1000
    # refused or invalid calls never change the state: only successful calls may appear in the diff
    for record in records:
        if not any(c["executed"] and "result" in c["response"] for c in record.calls):
            assert record.state_diff == {}
