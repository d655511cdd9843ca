"""O-LoRA (Wang et al., 2023), the orthogonal-subspace continual-learning baseline.

Every task gets its own LoRA (A_t, B_t) on each targeted linear; earlier ones are frozen, all are summed
at inference (no task id), and `auxiliary_loss()` pushes the new task's A into a subspace orthogonal to
the earlier A's: weight * sum_{t' < t} sum |A_t A_{t'}^T| (their release: weight 0.5).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from tooltune.adapters.config import AdapterConfigError, register_adapter_type, require_positive
from tooltune.adapters.layer import AdapterLayer
from tooltune.adapters.lora import LoRAConfig, init_down_projection


@register_adapter_type
@dataclass
class OLoRAConfig(LoRAConfig):
    """LoRA knobs plus the orthogonality weight and how many task LoRAs each layer holds."""

    adapter_type: ClassVar[str] = "olora"
    orthogonality_weight: float = 0.5
    num_tasks: int = 1

    def validate(self) -> None:
        super().validate()
        require_positive("num_tasks", self.num_tasks)
        if self.orthogonality_weight < 0:
            raise AdapterConfigError(f"orthogonality_weight must be >= 0, got {self.orthogonality_weight!r}")

    def make_layer(self, base: nn.Linear, module_name: str, generator: torch.Generator | None = None) -> OLoRALinear:
        return OLoRALinear(base, self.r, self.alpha, self.num_tasks, self.orthogonality_weight, generator)


class OLoRALinear(AdapterLayer):
    """base(x) + (alpha / r) * sum_t B_t A_t x, one (A_t, B_t) per task; only the last one trains."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, num_tasks: int = 1,
                 orthogonality_weight: float = 0.5, generator: torch.Generator | None = None) -> None:
        super().__init__(base)
        self.r, self.scaling, self.orthogonality_weight = r, alpha / r, orthogonality_weight
        self.lora_A = nn.ParameterList()
        self.lora_B = nn.ParameterList()
        for _ in range(num_tasks):
            self.add_task(generator)

    @property
    def num_tasks(self) -> int:
        return len(self.lora_A)

    def add_task(self, generator: torch.Generator | None = None) -> int:
        """Freeze the existing task LoRAs and append a fresh one (B = 0, A drawn from `generator`); returns its index."""
        for p in self.adapter_parameters():
            p.requires_grad_(False)
        kw = {"device": self.base.weight.device, "dtype": self.base.weight.dtype}
        a = nn.Parameter(torch.empty(self.r, self.base.in_features, **kw))
        init_down_projection(a, generator)
        self.lora_A.append(a)
        self.lora_B.append(nn.Parameter(torch.zeros(self.base.out_features, self.r, **kw)))
        return self.num_tasks - 1

    def adapter_parameters(self) -> list[nn.Parameter]:
        return [*self.lora_A, *self.lora_B]

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        a = torch.cat(list(self.lora_A), 0)
        b = torch.cat(list(self.lora_B), 1)
        return (x.to(a.dtype) @ a.t() @ b.t()) * self.scaling

    def auxiliary_loss(self) -> torch.Tensor | None:
        if self.num_tasks < 2 or self.orthogonality_weight == 0:
            return None
        new = self.lora_A[-1]
        old = torch.cat(list(self.lora_A)[:-1], 0).detach()
        return self.orthogonality_weight * (new @ old.t()).abs().sum()


def olora_layers(model: nn.Module) -> list[tuple[str, OLoRALinear]]:
    return [(n, m) for n, m in model.named_modules() if isinstance(m, OLoRALinear)]


def add_olora_task(model: nn.Module, config: OLoRAConfig, seed: int | None = None) -> set[str]:
    """Give every O-LoRA layer a new task LoRA (A drawn from `seed`, or torch's global RNG when None); returns
    the names of the parameters that should train."""
    layers = olora_layers(model)
    if not layers:
        raise ValueError("model has no O-LoRA layers: inject_adapters(model, OLoRAConfig(...)) first")
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    for _, layer in layers:
        index = layer.add_task(generator)
    config.num_tasks = index + 1  # saved with the adapter so that load_adapter rebuilds every task LoRA
    return current_olora_parameter_names(model)


def current_olora_parameter_names(model: nn.Module) -> set[str]:
    """Names of the last task's A and B in every O-LoRA layer."""
    return {f"{n}.lora_{m}.{layer.num_tasks - 1}" for n, layer in olora_layers(model) for m in ("A", "B")}
