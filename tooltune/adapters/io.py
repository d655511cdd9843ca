"""Adapters on disk, PEFT-style: `adapter_config.json` + `adapter_model.safetensors` (adapter tensors only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from tooltune.adapters.config import AdapterConfig, AdapterConfigError
from tooltune.adapters.layer import AdapterLayer
from tooltune.adapters.model import adapter_modules, adapter_parameters, get_adapter_config, inject_adapters
from tooltune.atomic import read_json_object
from tooltune.errors import UsageError

CONFIG_NAME = "adapter_config.json"
WEIGHTS_NAME = "adapter_model.safetensors"


class AdapterLoadError(UsageError, RuntimeError):
    """Saved adapter files are unreadable or do not fit the model they are loaded into."""


def save_adapter(model: nn.Module, directory: str | Path, metadata: dict[str, Any] | None = None) -> Path:
    """Write the injected adapter's config and tensors to `directory`; return it."""
    config = get_adapter_config(model)
    if config is None:
        raise AdapterConfigError("model has no adapters injected (call inject_adapters first)")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    payload = config.to_dict()
    base_name = getattr(getattr(model, "config", None), "_name_or_path", None)
    payload["base_model_name_or_path"] = base_name or None
    if metadata:
        payload["metadata"] = metadata
    (out / CONFIG_NAME).write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    tensors = {name: p.detach().to("cpu").contiguous().clone() for name, p in adapter_parameters(model).items()}
    save_file(tensors, str(out / WEIGHTS_NAME), metadata={"format": "pt", "adapter_type": config.adapter_type})
    return out


def base_adapter_dir(directory: str | Path) -> Path | None:
    """The adapter this one was trained on top of (metadata `base_adapter`, a folder inside it), or None.
    Loading merges that one into the model first."""
    data = read_json_object(Path(directory) / CONFIG_NAME) or {}
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    name = metadata.get("base_adapter")
    if not name:
        return None
    base = Path(directory) / str(name)
    if Path(str(name)).is_absolute() or ".." in Path(str(name)).parts or not (base / CONFIG_NAME).is_file():
        raise AdapterLoadError(f"{directory}: its base adapter {name!r} is not an adapter folder inside it")
    return base


def read_adapter_config(directory: str | Path) -> AdapterConfig:
    """The config stored in an adapter directory."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"no {CONFIG_NAME} in {directory}")
    data = read_json_object(path)
    if data is None:
        raise AdapterLoadError(f"{path} does not hold a readable JSON object")
    data.pop("base_model_name_or_path", None)
    data.pop("metadata", None)
    return AdapterConfig.from_dict(data)


def load_adapter(model: nn.Module, directory: str | Path) -> list[str]:
    """Inject the saved adapter into `model` (if not yet injected) and load its tensors exactly.

    Returns the wrapped module names. Raises `AdapterLoadError` on missing, unexpected or mis-shaped tensors.
    """
    config = read_adapter_config(directory)
    existing = get_adapter_config(model)
    if existing is None:
        wrapped = inject_adapters(model, config)
    elif existing.to_dict() != config.to_dict():
        raise AdapterLoadError(f"model already holds a different adapter than the one in {directory}")
    else:
        wrapped = [name for name, m in adapter_modules(model).items() if isinstance(m, AdapterLayer)]
    weights = Path(directory) / WEIGHTS_NAME
    if not weights.is_file():
        raise FileNotFoundError(f"no {WEIGHTS_NAME} in {directory}")
    saved = load_file(str(weights))
    params = adapter_parameters(model)
    missing = sorted(set(params) - set(saved))
    unexpected = sorted(set(saved) - set(params))
    if missing or unexpected:
        raise AdapterLoadError(f"adapter tensors do not match the model: missing {missing[:5]}, "
                               f"unexpected {unexpected[:5]} ({len(missing)} missing, {len(unexpected)} unexpected)")
    with torch.no_grad():
        for name, param in params.items():
            tensor = saved[name]
            if tensor.shape != param.shape:
                raise AdapterLoadError(f"{name}: saved shape {tuple(tensor.shape)} != model {tuple(param.shape)}")
            param.copy_(tensor.to(device=param.device, dtype=param.dtype))
    return wrapped
