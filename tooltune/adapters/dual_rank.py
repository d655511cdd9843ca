"""Dual-rank adapter (after DATA, arXiv 2502.11482): y = W0 x + s_low B1 A1 x + s_high B2 A2 x.

A low-rank adapter (rank 4) holds knowledge shared across tasks, a high-rank one (rank 16) the
task-specific part; the input-dependent scalars s come from `DecomposedAttention`. The backbone is frozen
and both B matrices start at zero, so a fresh adapter leaves the model unchanged.
`StochasticRestoration` implements DATA's guard against drift: reset a random fraction of adapter
weights to their start-of-task values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields

import torch
import torch.nn.functional as F
from torch import nn

DEFAULT_TARGET_MODULES: tuple[str, ...] = (
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
)


@dataclass
class DualRankConfig:
    """Knobs of the dual-rank adapter and its decomposed attention weighting (defaults from DATA)."""

    adapter_type: str = "dual_rank"
    target_modules: list[str] = field(default_factory=lambda: list(DEFAULT_TARGET_MODULES))
    rank_low: int = 4
    rank_high: int = 16
    rows_per_task: int = 8
    layers_per_group: int = 1
    per_token: bool = False
    orthogonality_weight: float = 1.0
    restoration_rate: float = 0.01
    restoration_period: int = 10

    def __post_init__(self) -> None:
        self.target_modules = list(self.target_modules)
        if self.adapter_type != "dual_rank":
            raise ValueError(f"adapter_type must be 'dual_rank', got {self.adapter_type!r}")
        if not self.target_modules or not all(isinstance(t, str) and t for t in self.target_modules):
            raise ValueError("target_modules must be a non-empty list of module names")
        for name in ("rank_low", "rank_high", "rows_per_task", "layers_per_group", "restoration_period"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 0.0 <= self.restoration_rate <= 1.0:
            raise ValueError(f"restoration_rate must be in [0, 1], got {self.restoration_rate!r}")
        if self.orthogonality_weight < 0:
            raise ValueError(f"orthogonality_weight must be >= 0, got {self.orthogonality_weight!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DualRankConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown dual_rank config field(s): {', '.join(unknown)}")
        return cls(**data)


class DualRankLinear(nn.Module):
    """A frozen `nn.Linear` plus a weighted low-rank and high-rank update.

    The weights (s_low, s_high) are set per forward by the router through `scales`
    ([batch, 2] per sequence or [batch, seq, 2] per token); without a router they are `default_scales`.
    Both updates run as one rank-(r_low + r_high) product, so the cost is that of a single LoRA.
    """

    def __init__(self, base: nn.Linear, rank_low: int = 4, rank_high: int = 16, group: int = 0) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be an nn.Linear, got {type(base).__name__}")
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.rank_low, self.rank_high, self.group = rank_low, rank_high, group
        kw = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A_low = nn.Parameter(torch.empty(rank_low, base.in_features, **kw))
        self.lora_B_low = nn.Parameter(torch.zeros(base.out_features, rank_low, **kw))
        self.lora_A_high = nn.Parameter(torch.empty(rank_high, base.in_features, **kw))
        self.lora_B_high = nn.Parameter(torch.zeros(base.out_features, rank_high, **kw))
        for a in (self.lora_A_low, self.lora_A_high):
            nn.init.kaiming_uniform_(a, a=math.sqrt(5))
        self.default_scales = (1.0, 1.0)
        self.scales: torch.Tensor | None = None

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def adapter_parameters(self) -> list[nn.Parameter]:
        return [self.lora_A_low, self.lora_B_low, self.lora_A_high, self.lora_B_high]

    def _rank_scales(self, x: torch.Tensor) -> torch.Tensor:
        """Per-rank multipliers broadcastable against x @ A^T: s_low on the first r_low ranks, s_high after."""
        r_low, r_high = self.rank_low, self.rank_high
        if self.scales is None:
            s_low, s_high = self.default_scales
            return x.new_tensor([s_low] * r_low + [s_high] * r_high)
        s = self.scales.to(x.dtype)
        if s.shape[0] != x.shape[0]:
            raise ValueError(f"adapter scales have batch {s.shape[0]} but the input has batch {x.shape[0]}")
        if s.dim() == 2:  # per sequence: [B, 2] -> [B, 1, ..., 1, 2]
            s = s.reshape(s.shape[0], *([1] * (x.dim() - 2)), 2)
        elif s.shape[:-1] != x.shape[:-1]:
            raise ValueError(f"per-token adapter scales {tuple(s.shape)} do not match input {tuple(x.shape)}")
        return torch.cat([s[..., :1].expand(*s.shape[:-1], r_low), s[..., 1:].expand(*s.shape[:-1], r_high)], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.cat([self.lora_A_low, self.lora_A_high], dim=0)
        b = torch.cat([self.lora_B_low, self.lora_B_high], dim=1)
        hidden = F.linear(x.to(a.dtype), a) * self._rank_scales(x)
        return self.base(x) + F.linear(hidden, b).to(x.dtype)

    def extra_repr(self) -> str:
        return f"rank_low={self.rank_low}, rank_high={self.rank_high}, group={self.group}"


class StochasticRestoration:
    """Resets a random fraction of adapter weights to the values they had at the start of the task.

    Exactly round(rate * numel) entries of every tensor are reset per call, drawn without replacement.
    """

    def __init__(self, parameters: Iterable[nn.Parameter], rate: float, seed: int = 0) -> None:
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"restoration rate must be in [0, 1], got {rate!r}")
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError("StochasticRestoration needs at least one parameter")
        self.rate = rate
        self.generator = torch.Generator().manual_seed(seed)
        self.snapshots: list[torch.Tensor] | None = None

    def snapshot(self) -> None:
        """Record the start-of-task values (call when a new task begins)."""
        self.snapshots = [p.detach().clone() for p in self.parameters]

    @torch.no_grad()
    def restore(self) -> int:
        """Reset the chosen fraction of entries; returns how many entries were reset in all."""
        if self.snapshots is None:
            raise RuntimeError("StochasticRestoration.restore() called before snapshot()")
        total = 0
        for param, start in zip(self.parameters, self.snapshots):
            count = round(self.rate * param.numel())
            if count == 0:
                continue
            index = torch.randperm(param.numel(), generator=self.generator)[:count].to(param.device)
            param.view(-1)[index] = start.view(-1)[index]
            total += count
        return total


def dual_rank_modules(model: nn.Module) -> list[tuple[str, DualRankLinear]]:
    """All dual-rank layers of a model with their names, in module order."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, DualRankLinear)]
