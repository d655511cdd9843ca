"""The continual methods: how each one adapts the model and what it trains at the start of every task."""

from __future__ import annotations

from typing import Any

from torch import nn
from transformers import TrainerCallback

from tooltune.adapters import LoRAConfig, adapter_parameters, inject_adapters
from tooltune.adapters.config import matches_any
from tooltune.adapters.decomposed_attention import layer_index
from tooltune.adapters.dual_rank import StochasticRestoration, dual_rank_parameters, get_dual_rank
from tooltune.adapters.olora import OLoRAConfig, add_olora_task, current_olora_parameter_names
from tooltune.methods.continual.config import ContinualConfig


class RestorationCallback(TrainerCallback):
    """Every `period` optimizer steps, reset a random fraction of adapter weights to start-of-task values."""

    def __init__(self, restoration: StochasticRestoration, period: int) -> None:
        self.restoration, self.period = restoration, period
        self.calls = 0
        self.entries = 0

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if state.global_step > 0 and state.global_step % self.period == 0:
            self.entries += self.restoration.restore()
            self.calls += 1


def top_layer_targets(model: nn.Module, targets: list[str], top_layers: int | None) -> list[str]:
    """`targets` unchanged, or the full names of the matching linears in the last `top_layers` layers."""
    if top_layers is None:
        return list(targets)
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and matches_any(n, targets)]
    layers = sorted({layer_index(n) for n in names})
    if not layers:
        raise ValueError(f"target_modules {targets} match no nn.Linear in the model")
    keep = set(layers[-top_layers:])
    return [n for n in names if layer_index(n) in keep]


class _MethodState:
    """What one method needs between tasks: the model, its adapter config, and how to start a task."""

    def __init__(self, model: nn.Module, config: ContinualConfig) -> None:
        self.model, self.config = model, config
        self.restoration_callbacks: list[RestorationCallback] = []
        method = config.method
        targets = top_layer_targets(model, config.target_modules, config.top_layers)
        if method == "data":
            self.adapter = config.dual_rank_config(targets)
        elif method == "olora":
            self.adapter = OLoRAConfig(target_modules=targets, r=config.olora_rank, alpha=2.0 * config.olora_rank,
                                       orthogonality_weight=config.olora_orthogonality_weight)
        else:
            self.adapter = LoRAConfig(target_modules=targets, r=config.lora_rank, alpha=2.0 * config.lora_rank)
        inject_adapters(model, self.adapter, seed=config.seed)

    def start_task(self, index: int) -> tuple[set[str], list[TrainerCallback]]:
        """Grow per-task components and return (trainable parameter names, callbacks) for task `index`."""
        method = self.config.method
        if method == "data":
            routing = get_dual_rank(self.model)
            routing.add_task()
            restoration = StochasticRestoration(dual_rank_parameters(self.model), self.config.restoration_rate,
                                                seed=self.config.seed + index)
            restoration.snapshot()
            callback = RestorationCallback(restoration, self.config.restoration_period)
            self.restoration_callbacks.append(callback)
            return routing.trainable_parameter_names(), [callback]
        if method == "olora":
            names = (add_olora_task(self.model, self.adapter, seed=self.config.seed + index) if index > 0
                     else current_olora_parameter_names(self.model))
            return names, []
        return set(adapter_parameters(self.model)), []

    @property
    def restorations(self) -> int:
        return sum(c.calls for c in self.restoration_callbacks)
