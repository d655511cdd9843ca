"""Dual-rank adapter (after DATA, arXiv 2502.11482): y = W0 x + s_low B1 A1 x + s_high B2 A2 x.

A low-rank adapter (rank 4) holds knowledge shared across tasks, a high-rank one (rank 16) the
task-specific part; the input-dependent weights s come from `DecomposedAttention`, per group of
`layers_per_group` adapted layers (4 in the release). The backbone is frozen; A ~ N(0, 1/r^2) and B = 0
with no alpha/r scaling, as the release initialises them, so a fresh adapter leaves the model unchanged.
`StochasticRestoration` is DATA's guard against drift: reset a random fraction of adapter weights to
their start-of-task values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from tooltune.adapters.config import (
    TARGET_MODULES,
    AdapterConfig,
    AdapterConfigError,
    register_adapter_type,
    require_positive,
)
from tooltune.adapters.decomposed_attention import AdapterRouting, DecomposedAttention, layer_index, layer_module_name
from tooltune.adapters.layer import AdapterLayer

ROUTER_NAME = "dual_rank_router"
_ROUTING_ATTRIBUTE = "_tooltune_dual_rank"


@register_adapter_type
@dataclass
class DualRankConfig(AdapterConfig):
    """Knobs of the dual-rank adapter and its decomposed attention weighting (defaults from DATA).

    `num_tasks` is how many tasks the router has rows for; it grows with `AdapterRouting.add_task()`
    and is saved so that `load_adapter` rebuilds the same router.
    """

    adapter_type: ClassVar[str] = "dual_rank"
    target_modules: list[str] = field(default_factory=lambda: list(TARGET_MODULES))
    rank_low: int = 4
    rank_high: int = 16
    rows_per_task: int = 8
    layers_per_group: int = 4
    per_token: bool = False
    orthogonality_weight: float = 1.0
    restoration_rate: float = 0.01
    restoration_period: int = 10
    num_tasks: int = 0
    seed: int = 0

    def validate(self) -> None:
        super().validate()
        for name in ("rank_low", "rank_high", "rows_per_task", "layers_per_group", "restoration_period"):
            require_positive(name, getattr(self, name))
        if isinstance(self.restoration_rate, bool) or not 0.0 <= self.restoration_rate <= 1.0:
            raise AdapterConfigError(f"restoration_rate must be in [0, 1], got {self.restoration_rate!r}")
        if self.orthogonality_weight < 0:
            raise AdapterConfigError(f"orthogonality_weight must be >= 0, got {self.orthogonality_weight!r}")
        if not isinstance(self.num_tasks, int) or self.num_tasks < 0:
            raise AdapterConfigError(f"num_tasks must be an integer >= 0, got {self.num_tasks!r}")
        if not isinstance(self.per_token, bool):
            raise AdapterConfigError(f"per_token must be true or false, got {self.per_token!r}")

    def build_layers(self, model: nn.Module, names: list[str],
                     generator: torch.Generator | None = None) -> dict[str, nn.Module]:
        """Wrap the linears and attach one router (submodule `dual_rank_router`) with its hooks.

        Layer groups count only the targeted layers: `layers_per_group` consecutive adapted layers share one
        group of router components, whose query is the hidden state entering the group's first layer.
        """
        if hasattr(model, _ROUTING_ATTRIBUTE):
            raise AdapterConfigError("target_modules: the model already has dual-rank adapters")
        used = sorted({layer_index(n) for n in names})
        group = {layer: rank // self.layers_per_group for rank, layer in enumerate(used)}
        modules = dict(model.named_modules())
        layers = {n: DualRankLinear(modules[n], self.rank_low, self.rank_high, group=group[layer_index(n)],
                                    generator=generator) for n in names}
        entries = {}
        for name in sorted(names, key=layer_index):  # a group's query enters at its first layer
            entries.setdefault(group[layer_index(name)], modules[layer_module_name(name)])
        embedding = model.get_input_embeddings()
        router = DecomposedAttention(
            query_dim=embedding.embedding_dim, num_groups=1 + max(group.values()), rows_per_task=self.rows_per_task,
            orthogonality_weight=self.orthogonality_weight, seed=self.seed,
        ).to(embedding.weight.device)
        for _ in range(self.num_tasks):
            router.add_task()
        model.add_module(ROUTER_NAME, router)
        routing = AdapterRouting(model, router, list(layers.items()), entries, per_token=self.per_token, config=self)
        object.__setattr__(model, _ROUTING_ATTRIBUTE, routing)
        return layers


def init_gaussian(weight: torch.Tensor, std: float, generator: torch.Generator | None = None) -> None:
    """N(0, std^2) entries, drawn on the CPU in float32 from `generator` (the same values on every device)."""
    with torch.no_grad():
        drawn = torch.empty(weight.shape, dtype=torch.float32).normal_(0.0, std, generator=generator)
        weight.copy_(drawn)


class DualRankLinear(AdapterLayer):
    """A frozen `nn.Linear` plus a weighted low-rank and high-rank update.

    The weights (s_low, s_high) are set per forward by the router through `scales`
    ([batch, 2] per sequence or [batch, seq, 2] per token); without a router they are `default_scales`.
    Both updates run as one rank-(r_low + r_high) product, so the cost is that of a single LoRA.
    """

    def __init__(self, base: nn.Linear, rank_low: int = 4, rank_high: int = 16, group: int = 0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(base)
        for p in base.parameters():
            p.requires_grad_(False)
        self.rank_low, self.rank_high, self.group = rank_low, rank_high, group
        kw = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A_low = nn.Parameter(torch.empty(rank_low, base.in_features, **kw))
        self.lora_B_low = nn.Parameter(torch.zeros(base.out_features, rank_low, **kw))
        self.lora_A_high = nn.Parameter(torch.empty(rank_high, base.in_features, **kw))
        self.lora_B_high = nn.Parameter(torch.zeros(base.out_features, rank_high, **kw))
        init_gaussian(self.lora_A_low, 1.0 / rank_low, generator)
        init_gaussian(self.lora_A_high, 1.0 / rank_high, generator)
        self.default_scales = (1.0, 1.0)
        self.scales: torch.Tensor | None = None

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
        lead = s.shape[:-1]
        return torch.cat([s[..., :1].expand(*lead, r_low), s[..., 1:].expand(*lead, r_high)], -1)

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.cat([self.lora_A_low, self.lora_A_high], dim=0)
        b = torch.cat([self.lora_B_low, self.lora_B_high], dim=1)
        return F.linear(F.linear(x.to(a.dtype), a) * self._rank_scales(x), b)

    def extra_repr(self) -> str:
        return f"rank_low={self.rank_low}, rank_high={self.rank_high}, group={self.group}"


class StochasticRestoration:
    """Resets a random fraction of adapter weights to the values they had at the start of the task.

    Exactly round(rate * numel) entries of every tensor are reset per call, drawn without replacement.
    """

    def __init__(self, parameters: Iterable[nn.Parameter], rate: float, seed: int = 0) -> None:
        if isinstance(rate, bool) or not 0.0 <= rate <= 1.0:
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


def get_dual_rank(model: nn.Module) -> AdapterRouting:
    """The routing handle of a model with dual-rank adapters (task growth, trainable names, forced weights)."""
    routing = getattr(model, _ROUTING_ATTRIBUTE, None)
    if routing is None:
        raise ValueError("model has no dual-rank adapters: inject_adapters(model, DualRankConfig(...)) first")
    return routing


def dual_rank_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The A and B matrices of every dual-rank layer (what stochastic restoration resets)."""
    return [p for m in model.modules() if isinstance(m, DualRankLinear) for p in m.adapter_parameters()]
