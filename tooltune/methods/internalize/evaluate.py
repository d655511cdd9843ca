"""Accuracy and inference cost of one approach: batched greedy answers to chat prompts."""

from __future__ import annotations

from collections.abc import Callable

from tqdm import tqdm

from tooltune.methods.internalize.metrics import ApproachResult
from tooltune.methods.internalize.teacher import answers_match, extract_answer
from tooltune.models.base import ChatModel
from tooltune.models.types import ChatRequest, GenerationConfig


def answer_all(
    model: ChatModel, prompts: list[list[dict]], *, batch_size: int = 16, max_new_tokens: int = 64, desc: str = "answering"
) -> list:
    """Greedy answers to every prompt, `batch_size` at a time."""
    config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0)
    answers = []
    for start in tqdm(range(0, len(prompts), batch_size), desc=desc, leave=False):
        batch = [ChatRequest(p) for p in prompts[start : start + batch_size]]
        answers.extend(model.chat_batch(batch, config))
    return answers


def score_answers(
    approach: str,
    answers: list,
    golds: list[str],
    parameters: int,
    *,
    correct: Callable[[str | None, str], bool] | None = None,
) -> tuple[ApproachResult, list[dict]]:
    """Accuracy (final number after 'Answer:') and token usage; also the per-question records."""
    judge = correct or (lambda text, gold: answers_match(extract_answer(text), gold))
    records = [
        {"answer": a.content, "gold": g, "correct": judge(a.content, g), "prompt_tokens": a.usage.prompt_tokens}
        for a, g in zip(answers, golds)
    ]
    result = ApproachResult(
        approach,
        correct=sum(r["correct"] for r in records),
        total=len(records),
        prompt_tokens=[a.usage.prompt_tokens for a in answers],
        completion_tokens=[a.usage.completion_tokens for a in answers],
        parameters=parameters,
    )
    return result, records
