"""Inference cost beside accuracy: prompt tokens and approximate FLOPs (2 x parameters x tokens).

The 2N-per-token rule (one multiply and one add per weight; Kaplan et al. 2020) ignores attention's
quadratic term, which is small at these prompt lengths. LoRA weights merge into the base at inference,
so an adapted student costs what its base costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import mean
from typing import Any


def forward_flops(parameters: int, tokens: float) -> float:
    """Approximate FLOPs to run `tokens` tokens through a model of `parameters` weights."""
    if parameters < 0 or tokens < 0:
        raise ValueError(f"parameters and tokens must be >= 0, got {parameters} and {tokens}")
    return 2.0 * parameters * tokens


def count_parameters(model: Any) -> int:
    """Weights of the base model, without adapter weights (they merge at inference) and counting tied ones once."""
    seen: set[int] = set()
    total = 0
    for name, param in model.named_parameters():
        if "lora_" in name or ".experts." in name or id(param) in seen:
            continue
        seen.add(id(param))
        total += param.numel()
    return total


@dataclass
class ApproachResult:
    """One row of the comparison table."""

    approach: str
    correct: int
    total: int
    prompt_tokens: list[int]
    completion_tokens: list[int]
    parameters: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @property
    def mean_prompt_tokens(self) -> float:
        return mean(self.prompt_tokens) if self.prompt_tokens else 0.0

    @property
    def mean_completion_tokens(self) -> float:
        return mean(self.completion_tokens) if self.completion_tokens else 0.0

    @property
    def prompt_flops(self) -> float:
        """Mean FLOPs per query spent on the prompt."""
        return forward_flops(self.parameters, self.mean_prompt_tokens)

    @property
    def total_flops(self) -> float:
        """Mean FLOPs per query, prompt and generated tokens together."""
        return forward_flops(self.parameters, self.mean_prompt_tokens + self.mean_completion_tokens)

    def to_dict(self) -> dict:
        return {
            "approach": self.approach,
            "correct": self.correct,
            "total": self.total,
            "accuracy": self.accuracy,
            "mean_prompt_tokens": self.mean_prompt_tokens,
            "mean_completion_tokens": self.mean_completion_tokens,
            "prompt_gflops": self.prompt_flops / 1e9,
            "total_gflops": self.total_flops / 1e9,
            "parameters": self.parameters,
        }


def format_table(rows: list[ApproachResult], metric: str = "accuracy") -> str:
    """A plain-text table; the last column is each approach's prompt cost relative to the cheapest."""
    cheapest = min((r.mean_prompt_tokens for r in rows if r.mean_prompt_tokens > 0), default=1.0)
    header = f"{'approach':<28} {metric:>14} {'prompt tok':>10} {'gen tok':>8} {'prompt GFLOPs':>13} {'total GFLOPs':>12} {'x prompt':>8}"
    lines = [header, "-" * len(header)]
    for r in rows:
        score = f"{r.correct}/{r.total} {100 * r.accuracy:5.1f}%"
        lines.append(
            f"{r.approach:<28} {score:>14} {r.mean_prompt_tokens:>10.1f} {r.mean_completion_tokens:>8.1f} "
            f"{r.prompt_flops / 1e9:>13.2f} {r.total_flops / 1e9:>12.2f} {r.mean_prompt_tokens / cheapest:>8.2f}"
        )
    return "\n".join(lines)
