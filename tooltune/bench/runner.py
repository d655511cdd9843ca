"""Runs cases x strategies x settings x trials: batched steps for local models, asyncio for HTTP ones.

Every finished episode is committed to the run's SQLite log at once; a resumed run skips the
episodes already there. Episodes are driven through the strategies' step functions, so one
`chat_batch` call advances many episodes by one turn.
"""

from __future__ import annotations

import asyncio
import time
import traceback
import zlib
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, is_dataclass, replace
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from tooltune.bench.config import RunConfig
from tooltune.bench.episode import EpisodeKey, EpisodeRecord, EpisodeState
from tooltune.bench.selection import select_cases
from tooltune.bench.store import RunStore
from tooltune.bench.strategies import Strategy, get_strategy
from tooltune.bench.toolbox import Toolbox
from tooltune.models.base import ChatModel, ModelError
from tooltune.models.types import AssistantMessage, GenerationConfig, Message

if TYPE_CHECKING:
    from tooltune.sandbox.cases import Case
    from tooltune.sandbox.checks import KeyPointResult
    from tooltune.sandbox.suite import Suite
    from tooltune.sandbox.world import World


@dataclass
class Harness:
    """How the runner reaches the world: open a case's world, its opening messages, the checker."""

    open_world: Callable[[Case], World]
    opening: Callable[[Case, bool], list[Message]]
    check: Callable[[Case, list[Message], World], list[KeyPointResult]] | None = None


def sandbox_harness(suite: Suite) -> Harness:
    """The harness backed by tooltune.sandbox (prompts and deterministic key-point checks)."""
    from tooltune.sandbox.checks import check_keypoints
    from tooltune.sandbox.prompts import episode_messages

    return Harness(
        open_world=suite.open_world,
        opening=lambda case, include_profile: episode_messages(case, include_profile=include_profile),
        check=check_keypoints,
    )


def run_cases(suite: Suite, config: RunConfig) -> list[Case]:
    """The suite's cases that the run covers; a `SelectionError` names what the suite lacks."""
    return select_cases(suite.cases, case_ids=config.cases, users=config.users, apps=config.apps, limit=config.limit,
                        seed=config.seed)


def plan_episodes(cases: Sequence[Case], config: RunConfig) -> list[EpisodeKey]:
    """All episode keys of a run, in a stable order."""
    return [EpisodeKey(c.id, s, t, trial) for c in cases for s in config.strategies for t in config.settings
            for trial in range(config.trials)]


def _as_dict(item: Any) -> dict[str, Any]:
    """A checker result as a new flat dict (its fields are plain values: no deep copy needed)."""
    return {f.name: getattr(item, f.name) for f in fields(item)} if is_dataclass(item) else dict(item)


def keypoint_checks(case: Case, results: Sequence[KeyPointResult | dict[str, Any]]) -> list[dict[str, Any]]:
    """Checker results as dicts, each with its key point's kind and text (for scores and the judge)."""
    points = {kp.id: kp for kp in getattr(case.instruction, "keypoints", [])}
    out = []
    for result in results:
        item = _as_dict(result)
        point = points.get(item.get("keypoint_id"))
        item.setdefault("kind", getattr(point, "kind", None))
        item.setdefault("text", getattr(point, "text", ""))
        out.append(item)
    return out


@dataclass
class _Live:
    key: EpisodeKey
    case: Case
    world: World
    state: EpisodeState
    strategy: Strategy
    started: float


class Runner:
    """Drives the episodes of one run and writes each to the store as it finishes."""

    def __init__(self, model: ChatModel, suite: Suite, config: RunConfig, store: RunStore,
                 harness: Harness | None = None, progress: bool = True) -> None:
        self.model = model
        self.suite = suite
        self.config = config
        self.store = store
        self.harness = harness or sandbox_harness(suite)
        self.progress = progress
        self.strategies = {n: get_strategy(n, max_observation_chars=config.max_observation_chars,
                                           tool_choice=config.tool_choice,
                                           answer_on_last_turn=config.answer_on_last_turn,
                                           answer_on_repeat=config.answer_on_repeat)
                           for n in config.strategies}
        self.cases = {c.id: c for c in run_cases(suite, config)}
        self.episodes = plan_episodes(list(self.cases.values()), config)
        self.generation = GenerationConfig(max_new_tokens=config.max_new_tokens, temperature=config.temperature,
                                           seed=config.seed)

    @property
    def asynchronous(self) -> bool:
        """HTTP-style backends (own `achat`) run concurrently; local ones run batched."""
        return type(self.model).achat is not ChatModel.achat

    def todo(self) -> list[EpisodeKey]:
        done = self.store.done_ids()
        return [k for k in self.episodes if k.id not in done]

    def run(self) -> dict[str, int]:
        """Run every unfinished episode; returns counts of episodes done, failed and skipped."""
        todo = self.todo()
        skipped = len(self.episodes) - len(todo)
        bar = tqdm(total=len(self.episodes), initial=skipped, desc="episodes", unit="ep", disable=not self.progress)
        counts = {"done": 0, "failed": 0, "skipped": skipped}
        try:
            if self.asynchronous:
                asyncio.run(self._run_async(todo, bar, counts))
            else:
                self._run_batched(todo, bar, counts)
        finally:
            bar.close()
        return counts

    # -- episode lifecycle ------------------------------------------------------------------------
    def _start(self, key: EpisodeKey) -> _Live:
        case = self.cases[key.case_id]
        world = self.harness.open_world(case)
        strategy = self.strategies[key.strategy]
        toolbox = Toolbox(world, key.setting, list(case.instruction.tools))
        messages = self.harness.opening(case, self.config.include_profile)
        state = strategy.begin(key, messages, toolbox, self.config.max_turns)
        return _Live(key, case, world, state, strategy, time.perf_counter())

    def _complete(self, live: _Live) -> EpisodeRecord:
        """The record of a finished episode (checks and state diff taken before the world closes)."""
        try:
            state = live.state
            checks = [] if self.harness.check is None else keypoint_checks(
                live.case, self.harness.check(live.case, state.trajectory, live.world))
            diff = live.world.diff() if hasattr(live.world, "diff") else {}
            return EpisodeRecord(
                key=live.key, user_id=live.case.user.id, apps=list(live.case.instruction.apps),
                trajectory=state.trajectory,
                calls=[{"turn": c.turn, "id": c.call_id, "name": c.name, "arguments": c.arguments,
                        "response": c.response, "executed": c.executed} for c in state.calls],
                malformed=state.malformed, turns=state.turn, finish_reason=state.finish_reason or "unknown",
                offered_tools=list(state.toolbox.offered), prompt_tokens=state.prompt_tokens,
                completion_tokens=state.completion_tokens, seconds=time.perf_counter() - live.started,
                checks=checks, state_diff=diff,
            )
        finally:
            _close(live.world)
            live.world = None

    def _commit(self, records: list[EpisodeRecord], counts: dict[str, int], bar: tqdm) -> None:
        """Commit finished episodes together: one transaction, one fsync (group commit)."""
        if records:
            self.store.write_episodes(records)
            counts["done"] += len(records)
            bar.update(len(records))

    def _fail(self, live: _Live | None, key: EpisodeKey, error: str, counts: dict[str, int], bar: tqdm) -> None:
        if live is not None and live.world is not None:
            _close(live.world)
            live.world = None
        self.store.write_failure(key, error)
        counts["failed"] += 1
        bar.update(1)

    # -- local backends: one chat_batch call advances every live episode by one turn ------------
    def _run_batched(self, todo: list[EpisodeKey], bar: tqdm, counts: dict[str, int]) -> None:
        pending = deque(todo)
        live: list[_Live] = []
        rounds = 0
        while pending or live:
            rounds += 1
            while pending and len(live) < self.config.batch_size:
                key = pending.popleft()
                try:
                    live.append(self._start(key))
                except Exception:  # a broken case must not stop the run; it is logged as failed
                    self._fail(None, key, traceback.format_exc(), counts, bar)
            finished: list[EpisodeRecord] = []
            for name in {item.key.strategy for item in live}:
                group = [item for item in live if item.key.strategy == name]
                answers = self._answer_batch(group, rounds)
                for item, answer in zip(group, answers):
                    if isinstance(answer, str):
                        self._fail(item, item.key, answer, counts, bar)
                        live.remove(item)
                        continue
                    try:
                        item.strategy.advance(item.state, answer)
                        if item.state.finished:
                            live.remove(item)
                            finished.append(self._complete(item))
                    except Exception:  # a harness or world bug fails this episode only, with its traceback
                        if item in live:
                            live.remove(item)
                        self._fail(item, item.key, traceback.format_exc(), counts, bar)
            self._commit(finished, counts, bar)

    def _answer_batch(self, group: list[_Live], round_index: int) -> list[AssistantMessage | str]:
        """Answers for a group sharing one strategy; a failing batch is retried one by one."""
        strategy = group[0].strategy
        config = strategy.generation(self.generation)
        config = replace(config, seed=derived_seed(config.seed, "round", round_index, strategy.name))
        requests = [strategy.request(item.state) for item in group]
        try:
            answers = self.model.chat_batch(requests, config)
            if len(answers) != len(requests):
                raise ModelError(f"chat_batch returned {len(answers)} answers for {len(requests)} requests")
            return list(answers)
        except Exception:  # a backend failure fails episodes (logged, resumable), never the whole run
            if len(group) == 1:
                return [traceback.format_exc()]
        out: list[AssistantMessage | str] = []
        for request in requests:
            try:
                out.append(self.model.chat(request.messages, request.tools, config, **request.chat_options()))
            except Exception:
                out.append(traceback.format_exc())
        return out

    # -- HTTP backends: many episodes in flight -----------------------------------------------
    async def _run_async(self, todo: list[EpisodeKey], bar: tqdm, counts: dict[str, int]) -> None:
        # `concurrency` bounds the requests in flight. Twice as many episodes are live, so that a freed request
        # slot finds an episode ready to send instead of waiting while a world opens or an episode is checked.
        requests = asyncio.Semaphore(self.config.concurrency)
        episodes = asyncio.Semaphore(2 * self.config.concurrency)
        finished: asyncio.Queue[EpisodeRecord | None] = asyncio.Queue()

        async def one(key: EpisodeKey) -> None:
            async with episodes:
                live: _Live | None = None
                try:
                    # opening a world and checking its end state block: keep them off the event loop
                    live = await asyncio.to_thread(self._start, key)
                    config = live.strategy.generation(self.generation)
                    while not live.state.finished:
                        request = live.strategy.request(live.state)
                        seeded = replace(config, seed=derived_seed(config.seed, key.id, live.state.turn))
                        async with requests:
                            answer = await self.model.achat(request.messages, request.tools, seeded,
                                                            **request.chat_options())
                        live.strategy.advance(live.state, answer)
                    finished.put_nowait(await asyncio.to_thread(self._complete, live))
                except Exception:
                    self._fail(live, key, traceback.format_exc(), counts, bar)

        async def writer() -> None:
            """Commits whatever has finished since the last commit, until the end marker."""
            while True:
                batch = [await finished.get()]
                while not finished.empty():
                    batch.append(finished.get_nowait())
                await asyncio.to_thread(self._commit, [r for r in batch if r is not None], counts, bar)
                if None in batch:
                    return

        writing = asyncio.create_task(writer())
        try:
            await asyncio.gather(*(one(key) for key in todo))
        finally:
            finished.put_nowait(None)
            await writing


def derived_seed(base: int | None, *parts: object) -> int | None:
    """A stable per-call seed, so repeated trials sample differently yet reproducibly."""
    if base is None:
        return None
    return zlib.crc32("|".join(map(str, (base, *parts))).encode()) & 0x7FFFFFFF


def _close(world: World) -> None:
    close = getattr(world, "close", None)
    if callable(close):
        close()


def run_episode(model: ChatModel, strategy: Strategy, state: EpisodeState,
                config: GenerationConfig | None = None) -> EpisodeState:
    """Drive one episode to its end with blocking calls (handy for tests and scripts)."""
    generation = strategy.generation(config or GenerationConfig())
    while not state.finished:
        request = strategy.request(state)
        strategy.advance(state, model.chat(request.messages, request.tools, generation, **request.chat_options()))
    return state
