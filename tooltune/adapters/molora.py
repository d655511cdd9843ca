"""Mixture-of-LoRA (as in CITI): a router over N LoRA experts, computed together in one batched contraction.

delta(x) = scaling * sum_e g_e(x) B_e A_e x, with gates g from a softmax router (dense, or top-k with the
kept gates renormalised). The Switch-Transformer balance loss N * sum_e f_e P_e (f: share of routing
slots sent to expert e, P: mean router probability of e) is kept from the last forward; with a dense router
f = P, so the loss is N * sum P_e^2 >= 1, equality exactly for uniform routing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from tooltune.adapters.config import AdapterConfig, AdapterConfigError, register_adapter_type, require_positive
from tooltune.adapters.layer import AdapterLayer
from tooltune.adapters.lora import init_down_projection, validate_low_rank


@register_adapter_type
@dataclass
class MoLoRAConfig(AdapterConfig):
    """CITI's release: 4 experts, rank 8, alpha 2, balance-loss weight 0.01; top_k=None means a dense router."""

    adapter_type: ClassVar[str] = "molora"
    num_experts: int = 4
    r: int = 8
    alpha: float = 2.0
    dropout: float = 0.0
    top_k: int | None = None
    balance_weight: float = 0.01

    def validate(self) -> None:
        super().validate()
        require_positive("num_experts", self.num_experts)
        validate_low_rank(self)
        if self.top_k is not None:
            require_positive("top_k", self.top_k)
            if self.top_k > self.num_experts:
                raise AdapterConfigError(f"top_k ({self.top_k}) must be <= num_experts ({self.num_experts})")
        if isinstance(self.balance_weight, bool) or not isinstance(self.balance_weight, (int, float)) \
                or self.balance_weight < 0:
            raise AdapterConfigError(f"balance_weight must be a number >= 0, got {self.balance_weight!r}")

    def make_layer(self, base: nn.Linear, module_name: str, generator: torch.Generator | None = None) -> MoLoRALinear:
        return MoLoRALinear(base, num_experts=self.num_experts, r=self.r, alpha=self.alpha, dropout=self.dropout,
                            top_k=self.top_k, balance_weight=self.balance_weight, generator=generator)


def switch_balance_loss(probs: torch.Tensor, routed: torch.Tensor | None = None) -> torch.Tensor:
    """N * sum_e f_e P_e from router probabilities [tokens, N] and a 0/1 routing mask (None: dense, f = P)."""
    num_experts = probs.shape[-1]
    mean_prob = probs.mean(dim=0)
    if routed is None:
        share = mean_prob
    else:
        routed = routed.to(probs.dtype)
        share = routed.sum(dim=0) / routed.sum().clamp_min(1.0)
    return num_experts * torch.sum(share * mean_prob)


class MoLoRALinear(AdapterLayer):
    """`base(x) + scaling * sum_e g_e(x) B_e A_e x`; A: [E, r, in], B: [E, out, r], router: in -> E."""

    def __init__(self, base: nn.Linear, num_experts: int = 4, r: int = 8, alpha: float = 2.0, dropout: float = 0.0,
                 top_k: int | None = None, balance_weight: float = 0.01,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(base)
        self.num_experts = num_experts
        self.r = r
        self.scaling = alpha / r
        self.top_k = top_k
        self.balance_weight = balance_weight
        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.router = nn.Linear(base.in_features, num_experts, bias=False, **factory)
        self.lora_A = nn.Parameter(torch.empty(num_experts, r, base.in_features, **factory))
        self.lora_B = nn.Parameter(torch.zeros(num_experts, base.out_features, r, **factory))
        if generator is not None:  # the same bound as nn.Linear's default init, from the seeded generator
            init_down_projection(self.router.weight, generator)
        init_down_projection(self.lora_A, generator)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self._last_balance: torch.Tensor | None = None

    @property
    def dense(self) -> bool:
        return self.top_k is None or self.top_k >= self.num_experts

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Router probabilities, the gates actually applied, and the 0/1 routing mask (None if dense)."""
        probs = torch.softmax(self.router(x).float(), dim=-1)
        if self.dense:
            return probs, probs, None
        top_vals, top_idx = probs.topk(self.top_k, dim=-1)
        top_vals = top_vals / top_vals.sum(dim=-1, keepdim=True)
        mask = torch.zeros_like(probs).scatter(-1, top_idx, 1.0)
        return probs, torch.zeros_like(probs).scatter(-1, top_idx, top_vals), mask

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1]).to(self.lora_A.dtype)
        probs, gates, routed = self.route(flat)
        # the balance loss only matters for training; generation skips its cost
        wanted = self.balance_weight > 0 and torch.is_grad_enabled()
        self._last_balance = switch_balance_loss(probs, routed) if wanted else None
        # all experts at once: h[t, e, :] = A_e x_t; weight by gate, then sum_e B_e h[t, e, :]
        hidden = torch.einsum("ti,eri->ter", self.dropout(flat), self.lora_A)
        hidden = hidden * gates.to(hidden.dtype).unsqueeze(-1)
        out = torch.einsum("ter,eor->to", hidden, self.lora_B) * self.scaling
        return out.reshape(*lead, self.out_features)

    def auxiliary_loss(self) -> torch.Tensor | None:
        if self._last_balance is None:
            return None
        return self.balance_weight * self._last_balance
