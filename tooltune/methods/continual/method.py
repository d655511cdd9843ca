"""The continual methods, one class each behind one interface: how a method adapts the model, what trains at
the start of every task, and what its default adapter is. `METHODS` maps a method name to its class."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from torch import nn
from transformers import TrainerCallback

from tooltune.adapters import TARGET_MODULES, LoRAConfig, adapter_parameters, inject_adapters
from tooltune.adapters.config import AdapterConfig, matches_any
from tooltune.adapters.decomposed_attention import layer_index
from tooltune.adapters.dual_rank import DualRankConfig, StochasticRestoration, dual_rank_parameters, get_dual_rank
from tooltune.adapters.olora import OLoRAConfig, add_olora_task, current_olora_parameter_names
from tooltune.methods.continual.config import ContinualConfig, ContinualError


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


class ContinualMethod(ABC):
    """One continual method on one model: `attach` once, then `start_task` before each training stage."""

    name: ClassVar[str]
    one_stage: ClassVar[bool] = False  # trains once on the union of the tasks (multitask)

    def __init__(self, config: ContinualConfig) -> None:
        self.config = config
        self.model: nn.Module | None = None

    @staticmethod
    @abstractmethod
    def default_adapter() -> AdapterConfig:
        """The method's adapter when the config names none."""

    def resolved_adapter(self) -> AdapterConfig:
        """The config's adapter, or the method's default; refuses an adapter of another kind."""
        adapter = self.config.adapter or self.default_adapter()
        expected = type(self.default_adapter())
        if type(adapter) is not expected:
            raise ContinualError(f"adapter: method {self.name!r} takes a {expected.__name__}, "
                                 f"got {type(adapter).__name__}")
        return adapter

    def attach(self, model: nn.Module, stages: int) -> None:
        """Inject the adapter (targets narrowed to the top layers if asked), initialised from the seed."""
        adapter = self.resolved_adapter()
        targets = top_layer_targets(model, adapter.target_modules, self.config.top_layers)
        self.adapter = dataclasses.replace(adapter, target_modules=targets)
        inject_adapters(model, self.adapter, seed=self.config.train.seed)
        self.model = model

    @abstractmethod
    def start_task(self, index: int) -> tuple[set[str], list[TrainerCallback]]:
        """Grow per-task components; returns (trainable parameter names, callbacks) for task `index`."""

    @property
    def restorations(self) -> int:
        return 0


class SeqLoRA(ContinualMethod):
    """One LoRA trained on and on (r = 20 = 4 + 16, DATA's total rank)."""

    name = "seqlora"

    @staticmethod
    def default_adapter() -> AdapterConfig:
        return LoRAConfig(target_modules=list(TARGET_MODULES), r=20, alpha=40.0)

    def start_task(self, index: int) -> tuple[set[str], list[TrainerCallback]]:
        return set(adapter_parameters(self.model)), []


class Multitask(SeqLoRA):
    """One LoRA trained once on the union of all tasks: the upper bound."""

    name = "multitask"
    one_stage = True


class OLoRA(ContinualMethod):
    """A new LoRA per task, earlier ones frozen, kept orthogonal to them (Wang et al., 2023)."""

    name = "olora"

    @staticmethod
    def default_adapter() -> AdapterConfig:
        return OLoRAConfig(target_modules=list(TARGET_MODULES), r=8, alpha=16.0)

    def start_task(self, index: int) -> tuple[set[str], list[TrainerCallback]]:
        if index == 0:
            return current_olora_parameter_names(self.model), []
        return add_olora_task(self.model, self.adapter, seed=self.config.train.seed + index), []


class Data(ContinualMethod):
    """DATA: dual-rank adapters weighted by a decomposed-attention router that grows per task, plus
    stochastic restoration."""

    name = "data"

    def __init__(self, config: ContinualConfig) -> None:
        super().__init__(config)
        self.callbacks: list[RestorationCallback] = []

    @staticmethod
    def default_adapter() -> AdapterConfig:
        return DualRankConfig()

    def attach(self, model: nn.Module, stages: int) -> None:
        adapter = self.resolved_adapter()
        dim = model.get_input_embeddings().embedding_dim
        if adapter.rows_per_task * stages > dim:  # the router's rows must stay orthogonal
            raise ContinualError(f"rows_per_task: {adapter.rows_per_task} rows x {stages} tasks exceed the model's "
                                 f"embedding size {dim}; lower rows_per_task")
        super().attach(model, stages)

    def start_task(self, index: int) -> tuple[set[str], list[TrainerCallback]]:
        routing = get_dual_rank(self.model)
        routing.add_task()
        restoration = StochasticRestoration(dual_rank_parameters(self.model), self.adapter.restoration_rate,
                                            seed=self.config.train.seed + index)
        restoration.snapshot()
        callback = RestorationCallback(restoration, self.adapter.restoration_period)
        self.callbacks.append(callback)
        return routing.trainable_parameter_names(), [callback]

    @property
    def restorations(self) -> int:
        return sum(c.calls for c in self.callbacks)


METHODS: dict[str, type[ContinualMethod]] = {m.name: m for m in (Data, SeqLoRA, OLoRA, Multitask)}


def method_for(config: ContinualConfig) -> ContinualMethod:
    """The method object `config.method` names."""
    return METHODS[config.method](config)
