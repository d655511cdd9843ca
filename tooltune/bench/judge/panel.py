"""Judging a whole run: every episode by every judge, through the cache, combined by vote."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

from tqdm import tqdm

from tooltune.bench.episode import EpisodeRecord
from tooltune.bench.judge.llm import JudgeCase, JudgeFailed, LLMJudge, cache_key, trajectory_hash
from tooltune.bench.judge.vote import combine
from tooltune.bench.store import RunStore
from tooltune.models.base import ModelError


def judge_run(
    records: Sequence[EpisodeRecord],
    case_of: Callable[[str], JudgeCase],
    judges: Sequence[LLMJudge],
    store: RunStore,
    concurrency: int = 8,
    progress: bool = True,
) -> dict[str, dict[str, Any]]:
    """Episode id -> combined verdict (or {"error": ...} when no judge produced a valid one).

    A judge whose model fails (unreachable after its retries) is not asked again in this run: its remaining
    episodes get the same failure at once, and `bench judge` retries them later (failures are not cached).
    """
    if not judges:
        raise ValueError("judges: at least one judge is needed")
    names = [j.name for j in judges]
    if len(set(names)) != len(names):
        raise ValueError(f"judges: names must be distinct, got {names}")
    jobs = [(record, judge) for record in records for judge in judges]
    found: dict[str, dict[str, dict[str, Any]]] = {r.key.id: {} for r in records}
    errors: dict[str, list[str]] = {r.key.id: [] for r in records}
    todo = []
    for record, judge in jobs:
        traj = trajectory_hash(record.trajectory)
        key = cache_key(record.key.case_id, traj, judge.name)
        cached = store.cached_verdict(key)
        if cached is not None:
            found[record.key.id][judge.name] = cached
        else:
            todo.append((record, judge, traj, key))

    bar = tqdm(total=len(jobs), initial=len(jobs) - len(todo), desc="judging", unit="verdict", disable=not progress)
    broken: dict[str, Exception] = {}  # judge name -> why its model failed

    def failure(judge: LLMJudge, error: Exception) -> Exception:
        return broken.setdefault(judge.name, error) if isinstance(error, ModelError) else error

    def settle(record: EpisodeRecord, judge: LLMJudge, traj: str, key: str, verdict: dict | Exception) -> None:
        if isinstance(verdict, Exception):
            errors[record.key.id].append(f"{judge.name}: {verdict}")
        else:
            store.cache_verdict(key, record.key.case_id, traj, judge.name, verdict)
            found[record.key.id][judge.name] = verdict
        bar.update(1)

    async def run_async() -> None:
        limit = asyncio.Semaphore(concurrency)

        async def one(record: EpisodeRecord, judge: LLMJudge, traj: str, key: str) -> None:
            async with limit:
                verdict: dict | Exception | None = broken.get(judge.name)
                if verdict is None:
                    try:
                        verdict = await judge.averdict(case_of(record.key.case_id), record.trajectory)
                    except (JudgeFailed, ModelError) as error:
                        verdict = failure(judge, error)
                settle(record, judge, traj, key, verdict)

        await asyncio.gather(*(one(*job) for job in todo if job[1].asynchronous))

    try:
        if any(job[1].asynchronous for job in todo):
            asyncio.run(run_async())
        for record, judge, traj, key in (job for job in todo if not job[1].asynchronous):
            verdict: dict | Exception | None = broken.get(judge.name)
            if verdict is None:
                try:
                    verdict = judge.verdict(case_of(record.key.case_id), record.trajectory)
                except (JudgeFailed, ModelError) as error:
                    verdict = failure(judge, error)
            settle(record, judge, traj, key, verdict)
    finally:
        bar.close()
    out: dict[str, dict[str, Any]] = {}
    for episode, verdicts in found.items():
        combined = combine(verdicts) if verdicts else {"error": "no valid verdict"}
        if errors[episode]:
            combined["failures"] = errors[episode]
        out[episode] = combined
    return out
