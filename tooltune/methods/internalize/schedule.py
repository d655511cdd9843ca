"""The SKIntern curriculum: how much knowledge and how many examples each training stage keeps.

Stage t of T keeps a share S_t of the knowledge tokens and floor(K * S_t) few-shot examples. The
linear schedule (the paper's best) goes 1, (T-2)/(T-1), ..., 0, so the last stage holds the question alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

DecayKind = Literal["linear", "exponential"]


def decay_ratios(stages: int, kind: DecayKind = "linear") -> list[float]:
    """S_0..S_{T-1}, from 1 down to 0.

    `exponential` halves the remaining share each stage, rescaled so that it still starts at 1 and ends
    at 0 ((2^(T-1-t) - 1) / (2^(T-1) - 1)); SKIntern reports it ~5 points below linear.
    """
    if not isinstance(stages, int) or stages < 2:
        raise ValueError(f"stages must be an integer >= 2 (a first stage with knowledge and a last without), got {stages!r}")
    last = stages - 1
    if kind == "linear":
        return [1.0 - t / last for t in range(stages)]
    if kind == "exponential":
        return [(2.0 ** (last - t) - 1.0) / (2.0**last - 1.0) for t in range(stages)]
    raise ValueError(f"kind must be 'linear' or 'exponential', got {kind!r}")


@dataclass(frozen=True)
class StagePlan:
    """What one stage's prompts hold."""

    index: int
    keep_ratio: float
    num_examples: int
    epochs: float

    def knowledge_budget(self, knowledge_tokens: int) -> int:
        """Tokens of a `knowledge_tokens`-long knowledge text kept at this stage."""
        if knowledge_tokens < 0:
            raise ValueError(f"knowledge_tokens must be >= 0, got {knowledge_tokens}")
        # A tiny epsilon keeps floor(n * 2/3) from losing a token to floating point (e.g. 3 * (1 - 1/3)).
        return min(knowledge_tokens, math.floor(knowledge_tokens * self.keep_ratio + 1e-9))

    @property
    def question_only(self) -> bool:
        return self.keep_ratio == 0.0


@dataclass(frozen=True)
class DecaySchedule:
    """T stages, K examples at full share, E epochs in all (split evenly over the stages)."""

    stages: int = 4
    examples: int = 3
    total_epochs: float = 12.0
    kind: DecayKind = "linear"

    def __post_init__(self) -> None:
        decay_ratios(self.stages, self.kind)  # validates stages and kind
        if not isinstance(self.examples, int) or self.examples < 0:
            raise ValueError(f"examples (K) must be an integer >= 0, got {self.examples!r}")
        if self.total_epochs <= 0:
            raise ValueError(f"total_epochs must be > 0, got {self.total_epochs!r}")

    @property
    def ratios(self) -> list[float]:
        return decay_ratios(self.stages, self.kind)

    def plans(self) -> list[StagePlan]:
        per_stage = self.total_epochs / self.stages
        return [
            StagePlan(index=t, keep_ratio=s, num_examples=math.floor(self.examples * s + 1e-9), epochs=per_stage)
            for t, s in enumerate(self.ratios)
        ]

    def describe(self, knowledge_tokens: float) -> str:
        """A table of the schedule for a knowledge text of `knowledge_tokens` tokens (e.g. the mean)."""
        lines = [
            f"SKIntern schedule: {self.kind} decay, T={self.stages}, K={self.examples}, "
            f"{self.total_epochs:g} epochs in all (mean knowledge: {knowledge_tokens:.1f} tokens)",
            f"{'stage':>5}  {'S_t':>6}  {'knowledge tokens':>16}  {'examples':>8}  {'epochs':>6}",
        ]
        for plan in self.plans():
            budget = plan.knowledge_budget(round(knowledge_tokens))
            note = "  (question only)" if plan.question_only else ""
            lines.append(
                f"{plan.index:>5}  {plan.keep_ratio:>6.3f}  {budget:>16d}  {plan.num_examples:>8d}  {plan.epochs:>6.2f}{note}"
            )
        return "\n".join(lines)
