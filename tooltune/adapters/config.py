"""Adapter configurations: the knobs of each adapter type, validated, serialisable, and registered by name.

A config says *where* adapters go (`target_modules`) and *what* they are (its subclass); `make_layer`
builds the wrapper for one base linear. Other adapter types subclass `AdapterConfig` and call
`register_adapter_type` so that `load_adapter` can rebuild them from `adapter_config.json`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from tooltune.errors import UsageError


class AdapterConfigError(UsageError):
    """An adapter configuration is invalid; the message names the offending field."""


TARGET_MODULES: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""Every attention and MLP linear of a decoder layer, by the names Llama-style families give them; the
default targets, and the order components are shown in."""

_REGISTRY: dict[str, type[AdapterConfig]] = {}


@dataclass
class AdapterConfig:
    """Base of every adapter config.

    `target_modules` holds full module paths ("model.layers.0.mlp.down_proj") or name suffixes ("q_proj");
    a module is targeted when its path equals an entry or ends with "." + entry.
    `full_tune_modules` (same matching) are base linears left unwrapped but trainable; their weights are
    saved with the adapter (CITI's fully tuned `down_proj`).
    """

    adapter_type: ClassVar[str] = ""
    target_modules: list[str] = field(default_factory=list)
    full_tune_modules: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise `AdapterConfigError` naming the first bad field."""
        for name in ("target_modules", "full_tune_modules"):
            value = getattr(self, name)
            if isinstance(value, str) or not isinstance(value, (list, tuple)):
                raise AdapterConfigError(f"{name} must be a list of module names, got {value!r}")
            if not all(isinstance(v, str) and v for v in value):
                raise AdapterConfigError(f"{name} must hold non-empty strings, got {value!r}")
            setattr(self, name, list(value))
        if not self.target_modules and not self.full_tune_modules:
            raise AdapterConfigError("target_modules must name at least one module (or give full_tune_modules)")

    def targets(self, module_name: str) -> bool:
        """Whether the module at `module_name` should be wrapped by this adapter."""
        return matches_any(module_name, self.target_modules)

    def fully_tunes(self, module_name: str) -> bool:
        """Whether the base module at `module_name` is trained in full (and saved with the adapter)."""
        return matches_any(module_name, self.full_tune_modules)

    def make_layer(self, base: nn.Linear, module_name: str, generator: torch.Generator | None = None) -> nn.Module:
        """Wrap one base linear, drawing random initial values from `generator`; subclasses implement this."""
        raise NotImplementedError(f"{type(self).__name__} does not implement make_layer")

    def build_layers(self, model: nn.Module, names: list[str],
                     generator: torch.Generator | None = None) -> dict[str, nn.Module]:
        """Build wrappers for all `names` at once, in order (override to share components between layers)."""
        modules = dict(model.named_modules())
        return {name: self.make_layer(modules[name], name, generator) for name in names}

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["adapter_type"] = self.adapter_type
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AdapterConfig:
        """Rebuild a config of the registered type named by data["adapter_type"]."""
        if not isinstance(data, dict):
            raise AdapterConfigError(f"adapter config must be a JSON object, got {type(data).__name__}")
        kind = data.get("adapter_type")
        if kind not in _REGISTRY:
            raise AdapterConfigError(f"adapter_type {kind!r} is not registered (known: {sorted(_REGISTRY)})")
        target = _REGISTRY[kind]
        known = {f.name for f in dataclasses.fields(target)}
        unknown = sorted(set(data) - known - {"adapter_type"})
        if unknown:
            raise AdapterConfigError(f"unknown field(s) for adapter_type {kind!r}: {unknown}")
        return target(**{k: v for k, v in data.items() if k != "adapter_type"})


def matches_any(module_name: str, patterns: list[str]) -> bool:
    """Full-path or suffix match of a module path against config entries."""
    return any(module_name == p or module_name.endswith("." + p) for p in patterns)


def register_adapter_type(cls: type[AdapterConfig]) -> type[AdapterConfig]:
    """Class decorator: make an adapter config loadable by its `adapter_type` name."""
    if not cls.adapter_type:
        raise AdapterConfigError(f"{cls.__name__}.adapter_type must be a non-empty name")
    existing = _REGISTRY.get(cls.adapter_type)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise AdapterConfigError(f"adapter_type {cls.adapter_type!r} already registered by {existing.__name__}")
    _REGISTRY[cls.adapter_type] = cls
    return cls


def registered_adapter_types() -> dict[str, type[AdapterConfig]]:
    """Name -> config class of every registered adapter type."""
    return dict(_REGISTRY)


@register_adapter_type
@dataclass
class FullTuneConfig(AdapterConfig):
    """No wrapper at all: only `full_tune_modules` are trained (full fine-tuning of chosen linears)."""

    adapter_type: ClassVar[str] = "full"

    def validate(self) -> None:
        super().validate()
        if self.target_modules:
            raise AdapterConfigError("target_modules must be empty for adapter_type 'full'; use full_tune_modules")


def require_positive(field_name: str, value: Any, *, integer: bool = True) -> None:
    """Raise `AdapterConfigError` unless `value` is a positive int (or positive number)."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        kind = "integer" if integer else "number"
        raise AdapterConfigError(f"{field_name} must be a positive {kind}, got {value!r}")


def require_fraction(field_name: str, value: Any) -> None:
    """Raise `AdapterConfigError` unless 0 <= value < 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise AdapterConfigError(f"{field_name} must be in [0, 1), got {value!r}")
