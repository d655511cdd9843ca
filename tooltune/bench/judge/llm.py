"""An LLM key-point judge on any model backend: prompt, parse, validate, retry on malformed output."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tooltune.bench.judge.prompt import PROMPT_VERSION, extract_json, judge_messages
from tooltune.bench.judge.schema import VerdictError, validate_verdict
from tooltune.models.base import ChatModel
from tooltune.models.types import AssistantMessage, GenerationConfig, Message

if TYPE_CHECKING:
    from tooltune.sandbox.cases import Case


class JudgeFailed(RuntimeError):
    """The judge gave no valid verdict within its attempts; the message holds the last problem."""


@dataclass
class JudgeCase:
    """What a judge needs to know about a case besides the trajectory."""

    case_id: str
    query: str
    profile: str
    context: str = ""
    personal: list[str] = field(default_factory=list)
    proactive: list[str] = field(default_factory=list)


def judge_case(case: Case, include_profile: bool = True) -> JudgeCase:
    """A sandbox case as the judge sees it: query, time/location, persona + preferences, key points."""
    from tooltune.sandbox.prompts import render_profile

    instruction = case.instruction
    points = list(instruction.keypoints)
    return JudgeCase(
        case_id=case.id,
        query=instruction.query,
        profile=render_profile(case.user, list(instruction.apps)),
        context=f"Time: {instruction.timestamp}. Location: {instruction.location}. Tools: "
                f"{', '.join(instruction.tools)}.",
        personal=[kp.text for kp in points if kp.kind == "personal"],
        proactive=[kp.text for kp in points if kp.kind == "proactive"],
    )


def trajectory_hash(trajectory: list[Message]) -> str:
    return hashlib.sha256(json.dumps(trajectory, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def cache_key(case_id: str, traj_hash: str, judge: str) -> str:
    """The cache identity of a verdict: (case, trajectory hash, judge model) plus the prompt version."""
    return hashlib.sha256(f"{case_id}\x00{traj_hash}\x00{judge}\x00{PROMPT_VERSION}".encode()).hexdigest()


class LLMJudge:
    """Asks one model for a verdict; malformed answers are shown to it with the error and retried."""

    def __init__(self, model: ChatModel, name: str | None = None, max_attempts: int = 3,
                 max_new_tokens: int = 1500) -> None:
        if max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {max_attempts}")
        self.model = model
        self.name = name or model.name
        self.max_attempts = max_attempts
        self.config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0)

    @property
    def asynchronous(self) -> bool:
        return type(self.model).achat is not ChatModel.achat

    def _start(self, case: JudgeCase, trajectory: list[Message]) -> list[Message]:
        return judge_messages(case.query, case.profile, case.context, case.personal, case.proactive, trajectory)

    def _read(self, case: JudgeCase, answer: AssistantMessage, messages: list[Message]) -> dict[str, Any] | str:
        """The validated verdict, or an error text after extending `messages` for the retry."""
        text = answer.content if answer.content is not None else (answer.raw_text or "")
        try:
            return validate_verdict(extract_json(text), len(case.personal), len(case.proactive))
        except (ValueError, VerdictError) as error:
            problem = str(error)
        messages.append({"role": "assistant", "content": text})
        messages.append({"role": "user", "content": f"Your answer is not a valid verdict: {problem}. "
                                                    "Reply again with the corrected JSON object only."})
        return problem

    def _dialogue(self, case: JudgeCase, trajectory: list[Message]) -> Generator[list[Message], AssistantMessage,
                                                                               dict[str, Any]]:
        """Yields the messages to send, receives each answer; returns the verdict or raises JudgeFailed."""
        messages = self._start(case, trajectory)
        problem = ""
        for _ in range(self.max_attempts):
            result = self._read(case, (yield list(messages)), messages)
            if isinstance(result, dict):
                return result
            problem = result
        raise JudgeFailed(f"judge {self.name} gave no valid verdict for {case.case_id} in "
                          f"{self.max_attempts} attempts; last problem: {problem}")

    def verdict(self, case: JudgeCase, trajectory: list[Message]) -> dict[str, Any]:
        dialogue = self._dialogue(case, trajectory)
        messages = next(dialogue)
        while True:
            try:
                messages = dialogue.send(self.model.chat(messages, None, self.config))
            except StopIteration as done:
                return done.value

    async def averdict(self, case: JudgeCase, trajectory: list[Message]) -> dict[str, Any]:
        dialogue = self._dialogue(case, trajectory)
        messages = next(dialogue)
        while True:
            answer = await self.model.achat(messages, None, self.config)
            try:
                messages = dialogue.send(answer)
            except StopIteration as done:
                return done.value
