"""Adapters (layer 0): torch modules wrapping named linears, their configs, injection, and PEFT-style save/load."""

from tooltune.adapters.config import (
    TARGET_MODULES,
    AdapterConfig,
    AdapterConfigError,
    FullTuneConfig,
    register_adapter_type,
    registered_adapter_types,
)
from tooltune.adapters.io import AdapterLoadError, load_adapter, read_adapter_config, save_adapter
from tooltune.adapters.layer import AdapterLayer, AdapterModule
from tooltune.adapters.lora import LoRAConfig, LoRALinear
from tooltune.adapters.model import (
    adapter_modules,
    adapter_parameters,
    auxiliary_losses,
    full_tune_module_names,
    get_adapter_config,
    inject_adapters,
    mark_only_adapters_trainable,
    merge_adapters,
    mergeable,
    plan_targets,
)
from tooltune.adapters.molora import MoLoRAConfig, MoLoRALinear, switch_balance_loss
from tooltune.adapters import dual_rank, olora  # noqa: E402,F401 - registers the "dual_rank" and "olora" adapter types

__all__ = [
    "TARGET_MODULES",
    "AdapterConfig",
    "AdapterConfigError",
    "AdapterLayer",
    "AdapterLoadError",
    "AdapterModule",
    "FullTuneConfig",
    "LoRAConfig",
    "LoRALinear",
    "MoLoRAConfig",
    "MoLoRALinear",
    "adapter_modules",
    "adapter_parameters",
    "auxiliary_losses",
    "full_tune_module_names",
    "get_adapter_config",
    "inject_adapters",
    "load_adapter",
    "mark_only_adapters_trainable",
    "merge_adapters",
    "mergeable",
    "plan_targets",
    "read_adapter_config",
    "register_adapter_type",
    "registered_adapter_types",
    "save_adapter",
    "switch_balance_loss",
]
