"""Mixture-of-LoRA (as in CITI): a router over a backbone route and N LoRA experts, computed in one batched
contraction.

delta(x) = scaling * sum_e g_e(x) B_e A_e x. The router is a linear map to N+1 outputs with a softmax (dense,
or top-k with the kept gates renormalised); output 0 is the backbone (it adds nothing), outputs 1..N weight the
experts. `backbone_route=False` gives the plain N-output router.

Routing losses, kept from the last forward:
- "contrast" (CITI's, after LoRAMoE's localized balancing): it needs a label per sample (tool or general, set by
  `set_routing_labels`). Each sample's routing mass, summed over its tokens, is weighted (1 - a) on the backbone
  and (1 + a) on the experts for a general sample, the other way round for a tool sample; the loss is the
  squared coefficient of variation of those weighted masses. It pushes general input to the backbone and tool
  input to the experts. Without labels it is absent.
- "balance": the Switch-Transformer loss N * sum_e f_e P_e (f: share of routing slots sent to output e, P: mean
  router probability of e); dense routing has f = P, so the loss is N * sum P_e^2 >= 1, equality only at uniform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from tooltune.adapters.config import AdapterConfigError, AdapterConfig, register_adapter_type, require_positive
from tooltune.adapters.layer import AdapterLayer
from tooltune.adapters.lora import init_down_projection, validate_low_rank

ROUTING_LOSSES = ("contrast", "balance")
GENERAL, TOOL, UNLABELLED = 0, 1, -1
"""Sample labels of the contrast loss."""


@register_adapter_type
@dataclass
class MoLoRAConfig(AdapterConfig):
    """CITI's release: 4 experts plus the backbone route, rank 8, alpha 2, routing loss weight 0.01; top_k=None
    means a dense router (top_k picks among all routes, at most num_experts of them). `contrast` (a) is our
    choice: 0.1, as LoRAMoE's localized balancing."""

    adapter_type: ClassVar[str] = "molora"
    num_experts: int = 4
    r: int = 8
    alpha: float = 2.0
    dropout: float = 0.0
    top_k: int | None = None
    backbone_route: bool = True
    routing_loss: str = "contrast"
    routing_weight: float = 0.01
    contrast: float = 0.1

    @property
    def routes(self) -> int:
        """Router outputs: the experts, plus the backbone when it has its own route."""
        return self.num_experts + int(self.backbone_route)

    def validate(self) -> None:
        super().validate()
        require_positive("num_experts", self.num_experts)
        validate_low_rank(self)
        if self.top_k is not None:
            require_positive("top_k", self.top_k)
            if self.top_k > self.num_experts:
                raise AdapterConfigError(f"top_k ({self.top_k}) must be <= num_experts ({self.num_experts})")
        if self.routing_loss not in ROUTING_LOSSES:
            raise AdapterConfigError(f"routing_loss must be one of {ROUTING_LOSSES}, got {self.routing_loss!r}")
        if self.routing_loss == "contrast" and not self.backbone_route:
            raise AdapterConfigError("routing_loss 'contrast' needs backbone_route (it weighs the backbone column)")
        for name in ("routing_weight", "contrast"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise AdapterConfigError(f"{name} must be a number >= 0, got {value!r}")
        if self.contrast >= 1:
            raise AdapterConfigError(f"contrast must be < 1 (a weight is 1 - contrast), got {self.contrast!r}")

    def make_layer(self, base: nn.Linear, module_name: str, generator: torch.Generator | None = None) -> MoLoRALinear:
        return MoLoRALinear(base, self, generator=generator)


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


def routing_contrast_loss(probs: torch.Tensor, kinds: torch.Tensor, mask: torch.Tensor,
                          contrast: float) -> torch.Tensor | None:
    """Squared coefficient of variation of the label-weighted routing masses (see the module docstring).

    probs [batch, tokens, 1 + N] (column 0: backbone), kinds [batch] (GENERAL, TOOL or UNLABELLED), mask
    [batch, tokens] (1: a real token). None when no sample is labelled.
    """
    known = kinds != UNLABELLED
    if not bool(known.any()):
        return None
    masses = (probs * mask.unsqueeze(-1).to(probs.dtype)).sum(dim=1)[known]
    is_tool = (kinds[known] == TOOL).unsqueeze(-1)
    is_expert = torch.arange(probs.shape[-1], device=probs.device) > 0
    sign = (is_tool ^ is_expert).to(probs.dtype) * 2 - 1  # +1: tool on the backbone or general on an expert
    weighted = masses * (1 + contrast * sign)
    return weighted.var(unbiased=False) / (weighted.mean() ** 2 + 1e-10)


class MoLoRALinear(AdapterLayer):
    """`base(x) + scaling * sum_e g_e(x) B_e A_e x`; A: [E, r, in], B: [E, out, r], router: in -> routes."""

    def __init__(self, base: nn.Linear, config: MoLoRAConfig, generator: torch.Generator | None = None) -> None:
        super().__init__(base)
        self.config = config
        self.scaling = self.config.alpha / self.config.r
        experts, r = self.config.num_experts, self.config.r
        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.router = nn.Linear(base.in_features, self.config.routes, bias=False, **factory)
        self.lora_A = nn.Parameter(torch.empty(experts, r, base.in_features, **factory))
        self.lora_B = nn.Parameter(torch.zeros(experts, base.out_features, r, **factory))
        if generator is not None:  # the same bound as nn.Linear's default init, from the seeded generator
            init_down_projection(self.router.weight, generator)
        init_down_projection(self.lora_A, generator)
        self.dropout = nn.Dropout(self.config.dropout) if self.config.dropout > 0 else nn.Identity()
        self.routing_labels: tuple[torch.Tensor, torch.Tensor] | None = None
        self._last_loss: torch.Tensor | None = None

    @property
    def dense(self) -> bool:
        return self.config.top_k is None or self.config.top_k >= self.config.routes

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Router probabilities, the gates actually applied (both over all routes), and the 0/1 routing mask
        (None if dense)."""
        probs = torch.softmax(self.router(x).float(), dim=-1)
        if self.dense:
            return probs, probs, None
        top_vals, top_idx = probs.topk(self.config.top_k, dim=-1)
        top_vals = top_vals / top_vals.sum(dim=-1, keepdim=True)
        mask = torch.zeros_like(probs).scatter(-1, top_idx, 1.0)
        return probs, torch.zeros_like(probs).scatter(-1, top_idx, top_vals), mask

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        lead = x.shape[:-1]
        flat = x.reshape(-1, x.shape[-1]).to(self.lora_A.dtype)
        probs, gates, routed = self.route(flat)
        # the routing loss only matters for training; generation skips its cost
        wanted = self.config.routing_weight > 0 and torch.is_grad_enabled()
        self._last_loss = self.routing_loss(probs, routed, lead) if wanted else None
        gates = gates[:, int(self.config.backbone_route):]  # the backbone's route adds nothing
        # all experts at once: h[t, e, :] = A_e x_t; weight by gate, then sum_e B_e h[t, e, :]
        hidden = torch.einsum("ti,eri->ter", self.dropout(flat), self.lora_A)
        hidden = hidden * gates.to(hidden.dtype).unsqueeze(-1)
        out = torch.einsum("ter,eor->to", hidden, self.lora_B) * self.scaling
        return out.reshape(*lead, self.out_features)

    def routing_loss(self, probs: torch.Tensor, routed: torch.Tensor | None, lead: torch.Size) -> torch.Tensor | None:
        """The configured routing loss of this forward (unweighted), or None (contrast without labels)."""
        if self.config.routing_loss == "balance":
            return switch_balance_loss(probs, routed)
        if self.routing_labels is None:
            return None
        kinds, mask = self.routing_labels
        if len(lead) != 2 or tuple(mask.shape) != tuple(lead):
            raise ValueError(f"routing labels: mask of shape {tuple(mask.shape)} for input of shape {tuple(lead)}")
        return routing_contrast_loss(probs.view(*lead, -1), kinds.to(probs.device), mask.to(probs.device),
                                     self.config.contrast)

    def auxiliary_loss(self) -> torch.Tensor | None:
        if self._last_loss is None:
            return None
        return self.config.routing_weight * self._last_loss


def set_routing_labels(model: nn.Module, kinds: torch.Tensor | None, mask: torch.Tensor | None = None) -> None:
    """Give every MoLoRA layer of `model` the sample labels [batch] and token mask [batch, tokens] of the next
    forward (None clears them)."""
    labels = None if kinds is None or mask is None else (kinds, mask)
    for module in model.modules():
        if isinstance(module, MoLoRALinear):
            module.routing_labels = labels
