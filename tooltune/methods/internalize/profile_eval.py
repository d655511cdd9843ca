"""How well a student honours a user's preferences on held-out instructions: free-running benchmark episodes
scored by the sandbox's deterministic personal key-point checks, and teacher-forced gold tool-call positions
(does the student call the gold tool with the gold, preference-bearing arguments?)."""

from __future__ import annotations

from pathlib import Path
from statistics import mean
from typing import Any

from tooltune.train.eval import score_tool_calls


def personal_counts(run_dir: str | Path) -> dict[str, tuple[int, int]]:
    """(passed, decided) personal key-point checks per case of a benchmark run (summed over its episodes)."""
    from tooltune.bench.store import RunStore

    store = RunStore(Path(run_dir))
    try:
        records = list(store.records())
    finally:
        store.close()
    counts: dict[str, tuple[int, int]] = {}
    for record in records:
        decided = [c for c in record.checks if c.get("kind") == "personal" and c.get("passed") is not None]
        passed, total = counts.get(record.key.case_id, (0, 0))
        counts[record.key.case_id] = (passed + sum(bool(c["passed"]) for c in decided), total + len(decided))
    return counts


def personal_checks(run_dir: Path) -> tuple[int, int]:
    """(passed, decided) personal key-point checks of a benchmark run."""
    counts = personal_counts(run_dir).values()
    return sum(p for p, _ in counts), sum(d for _, d in counts)


def argument_accuracy(details: list[dict]) -> float:
    """Share of gold arguments reproduced exactly, over all gold calls (a wrong tool scores 0 on its arguments)."""
    total = hits = 0
    for detail in details:
        predicted = dict(detail["predicted"])
        for name, arguments in detail["gold"]:
            total += len(arguments)
            got = predicted.get(name, {})
            hits += sum(1 for key, value in arguments.items() if key in got and got[key] == value)
    return hits / total if total else 0.0


def evaluate_condition(name: str, model: Any, tokenizer: Any, cases: list[Any], gold_examples: list[dict],
                       include_profile: bool, max_turns: int, max_new_tokens: int, out: Path) -> dict:
    """Free-running episodes through the benchmark's FC loop (personal checks passed) and, teacher-forced on
    the held-out gold trajectories, the calls the student makes at each gold tool-calling position."""
    from tooltune.bench.config import RunConfig
    from tooltune.bench.run import run_benchmark
    from tooltune.models.hf_local import HFChatModel
    from tooltune.sandbox.suite import builtin_suite

    chat = HFChatModel(model, tokenizer, name=name)
    run_config = RunConfig(model=name, cases=[c.id for c in cases], include_profile=include_profile,
                           max_turns=max_turns, max_new_tokens=max_new_tokens, batch_size=len(cases))
    run_dir = out / "eval" / name.replace(" ", "_").replace("/", "-")
    result = run_benchmark(run_config, run_dir, resume=run_dir.exists(), model=chat, suite=builtin_suite(), progress=False)
    passed, decided = personal_checks(run_dir)
    first_prompt = [len(tokenizer(chat.render_prompt(_opening(c, include_profile), _tools(c)), add_special_tokens=False)["input_ids"])
                    for c in cases]
    calls = score_tool_calls(chat, gold_examples, batch_size=4, max_new_tokens=max_new_tokens)
    return {"condition": name, "include_profile": include_profile, "personal_passed": passed,
            "personal_decided": decided, "first_turn_prompt_tokens": mean(first_prompt),
            "call_positions": calls.positions, "call_name_accuracy": calls.name_accuracy,
            "call_exact_accuracy": calls.exact_accuracy, "argument_accuracy": argument_accuracy(calls.details),
            "call_details": calls.details, "run_dir": str(result.run_dir)}


def _opening(case: Any, include_profile: bool) -> list[dict]:
    from tooltune.sandbox.prompts import episode_messages

    return episode_messages(case, include_profile=include_profile)


def offered_tools(world: Any, case: Any) -> list[dict]:
    """The case's tools in the order the benchmark offers them (tool-given setting)."""
    catalogue = {s["function"]["name"]: s for s in world.tool_schemas(None)}
    return [catalogue[name] for name in case.instruction.tools]


def _tools(case: Any) -> list[dict]:
    from tooltune.sandbox.suite import builtin_suite

    with builtin_suite().open_world(case) as world:
        return offered_tools(world, case)
