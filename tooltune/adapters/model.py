"""Putting adapters into a model: find target linears by name, swap wrappers in place, choose what trains.

Works on any torch model whose linears carry the family's own names (q_proj, ..., down_proj); the model's
source is never touched, only its child modules are replaced.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from tooltune.adapters.config import AdapterConfig, AdapterConfigError
from tooltune.adapters.layer import AdapterLayer, AdapterModule

CONFIG_ATTRIBUTE = "tooltune_adapter_config"


def plan_targets(model: nn.Module, config: AdapterConfig) -> tuple[list[str], list[str]]:
    """Names of the linears `config` would wrap and of those it would fully tune (in model order)."""
    wrapped: list[str] = []
    full: list[str] = []
    for name, module in model.named_modules():
        if not name or _inside_adapter(model, name):
            continue
        wrap, tune = config.targets(name), config.fully_tunes(name)
        if not (wrap or tune):
            continue
        if isinstance(module, AdapterLayer):
            raise AdapterConfigError(f"target_modules: {name!r} already holds an adapter ({type(module).__name__})")
        if wrap and tune:
            raise AdapterConfigError(f"{name!r} is in both target_modules and full_tune_modules")
        if not isinstance(module, nn.Linear):
            if name in config.target_modules or name in config.full_tune_modules:
                raise AdapterConfigError(f"target_modules: {name!r} is a {type(module).__name__}, not nn.Linear")
            continue  # a suffix matching a container (e.g. "mlp") is not a request for it
        (wrapped if wrap else full).append(name)
    _check_all_patterns_used(model, config.target_modules, wrapped, "target_modules")
    _check_all_patterns_used(model, config.full_tune_modules, full, "full_tune_modules")
    return wrapped, full


def inject_adapters(model: nn.Module, config: AdapterConfig, *, seed: int | None = None) -> list[str]:
    """Replace each targeted nn.Linear by its adapter wrapper; return the wrapped module names.

    Random initial values come from `seed` (the same adapter on every device and run, whatever else drew
    random numbers before) or, when None, from torch's global RNG. The config is remembered on the model
    (for `save_adapter`) and only adapter parameters and `full_tune_modules` are left trainable.
    """
    if get_adapter_config(model) is not None:
        raise AdapterConfigError("model already has adapters injected; load into a fresh model instead")
    wrapped, _ = plan_targets(model, config)
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    for name, layer in config.build_layers(model, wrapped, generator).items():
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, layer)
    setattr(model, CONFIG_ATTRIBUTE, config)
    mark_only_adapters_trainable(model)
    return wrapped


def get_adapter_config(model: nn.Module) -> AdapterConfig | None:
    """The config injected into `model` (None if it has no adapters)."""
    return getattr(model, CONFIG_ATTRIBUTE, None)


def adapter_modules(model: nn.Module) -> dict[str, AdapterModule]:
    """Every adapter module of the model by its path."""
    return {name: m for name, m in model.named_modules() if isinstance(m, AdapterModule)}


def full_tune_module_names(model: nn.Module) -> list[str]:
    """Base linears the injected config trains in full."""
    config = get_adapter_config(model)
    if config is None or not config.full_tune_modules:
        return []
    return plan_full_tuned(model, config)


def plan_full_tuned(model: nn.Module, config: AdapterConfig) -> list[str]:
    return [name for name, m in model.named_modules()
            if name and isinstance(m, nn.Linear) and not _inside_adapter(model, name) and config.fully_tunes(name)]


def adapter_parameters(model: nn.Module, include_full_tune: bool = True) -> dict[str, nn.Parameter]:
    """Parameters saved with the adapter: adapter-owned ones plus (by default) those of fully tuned base linears."""
    owned = {id(p) for m in adapter_modules(model).values() for _, p in m.adapter_named_parameters()}
    full = tuple(name + "." for name in full_tune_module_names(model)) if include_full_tune else ()
    return {name: p for name, p in model.named_parameters()
            if id(p) in owned or (full and name.startswith(full))}


def mark_only_adapters_trainable(model: nn.Module, extra: Iterable[str] = ()) -> int:
    """Freeze everything but adapter parameters (+ parameters named in `extra`); return #trainable."""
    keep = set(adapter_parameters(model)) | set(extra)
    count = 0
    for name, param in model.named_parameters():
        param.requires_grad_(name in keep)
        count += param.numel() if name in keep else 0
    return count


def auxiliary_losses(model: nn.Module) -> torch.Tensor | None:
    """Sum of `auxiliary_loss()` over modules that define it (None if none contributed)."""
    total: torch.Tensor | None = None
    for module in model.modules():
        hook = getattr(module, "auxiliary_loss", None)
        if hook is None or not callable(hook):
            continue
        value = hook()
        if value is not None:
            total = value if total is None else total + value
    return total


def _inside_adapter(model: nn.Module, name: str) -> bool:
    """Whether `name` lies inside an adapter module (e.g. its `.base` or router)."""
    parts = name.split(".")
    for i in range(1, len(parts)):
        if isinstance(model.get_submodule(".".join(parts[:i])), AdapterModule):
            return True
    return False


def _check_all_patterns_used(model: nn.Module, patterns: list[str], found: list[str], field: str) -> None:
    unused = [p for p in patterns if not any(n == p or n.endswith("." + p) for n in found)]
    if unused:
        raise AdapterConfigError(f"{field}: no nn.Linear in {type(model).__name__} matches {unused}")


def mergeable(model: nn.Module) -> bool:
    """True when every adapter layer is a fixed weight update (LoRA-like: it has `merged_weight`); input-routed
    adapters (MoLoRA, dual-rank) are not, their update depends on the input."""
    layers = adapter_modules(model)
    return bool(layers) and all(hasattr(m, "merged_weight") for m in layers.values())


@torch.no_grad()
def merge_adapters(model: nn.Module) -> list[str]:
    """Fold every adapter layer into a plain `nn.Linear` holding W0 + its update, in place; returns the
    merged module names. Inference gets the base model's speed; the adapter can no longer be saved or trained."""
    if not mergeable(model):
        raise AdapterConfigError("only adapters whose update is a fixed weight (LoRA) can be merged")
    merged = []
    for name, layer in adapter_modules(model).items():
        base = layer.base
        plain = nn.Linear(base.in_features, base.out_features, bias=base.bias is not None,
                          device=base.weight.device, dtype=base.weight.dtype)
        plain.weight.copy_(layer.merged_weight())
        if base.bias is not None:
            plain.bias.copy_(base.bias)
        parent_name, _, child = name.rpartition(".")
        setattr(model.get_submodule(parent_name) if parent_name else model, child, plain)
        merged.append(name)
    if hasattr(model, CONFIG_ATTRIBUTE):
        delattr(model, CONFIG_ATTRIBUTE)
    return merged

