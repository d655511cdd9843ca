"""The prompts of each stage: compressed knowledge, a few retrieved examples, and the question, intact."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tooltune.methods.internalize.compress import Compressor
from tooltune.methods.internalize.schedule import StagePlan

TASK_INSTRUCTION = "Solve step by step. End with 'Answer: <number>'."


@dataclass(frozen=True)
class Example:
    """A solved training question shown as a few-shot example."""

    question: str
    rationale: str


def render_prompt(question: str, knowledge: str = "", examples: list[Example] | None = None) -> str:
    """User-turn text: optional knowledge, optional examples, then the question (always last, verbatim)."""
    parts = []
    if knowledge.strip():
        parts.append(f"Knowledge:\n{knowledge.strip()}")
    if examples:
        shots = "\n\n".join(f"Question: {e.question}\n{e.rationale}" for e in examples)
        parts.append(f"Examples:\n{shots}")
    parts.append(f"Question: {question}")
    return "\n\n".join(parts)


def compress_for_stage(knowledge: str, plan: StagePlan, compressor: Compressor) -> str:
    """The knowledge cut to this stage's budget (floor(S_t x its token count)); empty at S_t = 0."""
    budget = plan.knowledge_budget(compressor.count(knowledge))
    return compressor.compress(knowledge, budget) if budget > 0 else ""


def stage_prompt(
    question: str,
    knowledge: str,
    top_examples: list[Example],
    plan: StagePlan,
    compressor: Compressor,
    rng: random.Random,
) -> str:
    """Knowledge compressed to S_t and floor(K x S_t) examples drawn at random from the top-K."""
    chosen = rng.sample(top_examples, min(plan.num_examples, len(top_examples)))
    return render_prompt(question, compress_for_stage(knowledge, plan, compressor), chosen)


def chat_messages(prompt: str, answer: str | None = None, instruction: str = TASK_INSTRUCTION) -> list[dict]:
    """System instruction + user prompt (+ the assistant's rationale for training)."""
    messages = [{"role": "system", "content": instruction}, {"role": "user", "content": prompt}]
    if answer is not None:
        messages.append({"role": "assistant", "content": answer})
    return messages
