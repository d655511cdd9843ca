"""LoRA (Hu et al., 2021): y = W0 x + (alpha / r) * B A x, with B initialised to zero so training starts at W0."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn

from tooltune.adapters.config import AdapterConfig, register_adapter_type, require_fraction, require_positive
from tooltune.adapters.layer import AdapterLayer


@register_adapter_type
@dataclass
class LoRAConfig(AdapterConfig):
    """Low-rank update on every targeted linear."""

    adapter_type: ClassVar[str] = "lora"
    r: int = 8
    alpha: float = 16.0
    dropout: float = 0.0

    def validate(self) -> None:
        super().validate()
        validate_low_rank(self)

    def make_layer(self, base: nn.Linear, module_name: str, generator: torch.Generator | None = None) -> LoRALinear:
        return LoRALinear(base, r=self.r, alpha=self.alpha, dropout=self.dropout, generator=generator)


def validate_low_rank(config: Any) -> None:
    """Check the `r`, `alpha`, `dropout` knobs every low-rank adapter config has."""
    require_positive("r", config.r)
    require_positive("alpha", config.alpha, integer=False)
    require_fraction("dropout", config.dropout)


def init_down_projection(weight: torch.Tensor, generator: torch.Generator | None = None) -> None:
    """Kaiming-uniform init of an A matrix [r, in] (the nn.Linear default, as PEFT does).

    With a (CPU) `generator` the values are drawn on the CPU in float32 and copied over, so a seed gives the
    same initial adapter on every device and in every process; without one they come from torch's global RNG.
    """
    bound = 1.0 / math.sqrt(weight.shape[-1])
    with torch.no_grad():
        if generator is None:
            weight.uniform_(-bound, bound)
        else:
            drawn = torch.empty(weight.shape, dtype=torch.float32).uniform_(-bound, bound, generator=generator)
            weight.copy_(drawn)


class LoRALinear(AdapterLayer):
    """`base(x) + scaling * B(A(dropout(x)))` with A: [r, in], B: [out, r], scaling = alpha / r."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, dropout: float = 0.0,
                 generator: torch.Generator | None = None) -> None:
        super().__init__(base)
        self.r = r
        self.scaling = alpha / r
        factory = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_A = nn.Parameter(torch.empty(r, base.in_features, **factory))
        self.lora_B = nn.Parameter(torch.zeros(base.out_features, r, **factory))
        init_down_projection(self.lora_A, generator)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dropout(x.to(self.lora_A.dtype)) @ self.lora_A.t()
        return (h @ self.lora_B.t()) * self.scaling

    def merged_weight(self) -> torch.Tensor:
        """W0 + scaling * B A: the equivalent plain weight (for merging into the base), summed in float32 so that a
        bf16 base does not round the small update away."""
        update = (self.lora_B.float() @ self.lora_A.float()) * self.scaling
        return (self.base.weight.float() + update).to(self.base.weight.dtype)
