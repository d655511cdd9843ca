"""What every export shares: its error type, the adapter's recorded base model, and the output directory."""

from __future__ import annotations

from pathlib import Path

from tooltune.adapters.config import AdapterConfig
from tooltune.adapters.io import CONFIG_NAME, WEIGHTS_NAME, read_adapter_config
from tooltune.atomic import read_json_object
from tooltune.errors import UsageError


class ExportError(UsageError):
    """An adapter cannot be exported in the asked form; the message says why and what to do instead."""


ROUTED = " is not one fixed matrix; serve it with tooltune (--adapter DIR), which runs the router"
WHY_NOT = {
    "molora": "MoLoRA mixes its LoRA experts with gates computed from each input token, so its update" + ROUTED,
    "dual_rank": "dual-rank weights its two LoRAs with scales computed from each input by decomposed attention, "
                 "so its update" + ROUTED,
    "full": "it trains whole linears and has no LoRA part; use --format merged",
    "olora": "its task LoRAs are not merged here; use --format peft (exact: one LoRA of rank r x tasks)",
}


def require_exportable(config: AdapterConfig, form: str, allowed: tuple[str, ...]) -> None:
    """Raise `ExportError` unless the adapter type is one of `allowed` (those `form` writes exactly)."""
    kind = config.adapter_type
    if kind not in allowed:
        why = WHY_NOT.get(kind, f"this export writes only adapter types {list(allowed)}")
        raise ExportError(f"adapter_type {kind!r} cannot be exported as {form}: {why}")


def read_source_config(adapter_dir: str | Path, form: str, allowed: tuple[str, ...]) -> AdapterConfig:
    """The config of a complete tooltune adapter directory of a type `form` can write (`allowed`)."""
    source = Path(adapter_dir)
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if not (source / name).is_file():
            raise ExportError(f"ADAPTER_DIR: no {name} in {source} (expected a tooltune adapter directory)")
    config = read_adapter_config(source)
    require_exportable(config, form, allowed)
    return config


def recorded_base(adapter_dir: str | Path) -> str | None:
    """The base model `save_adapter` recorded (`base_model_name_or_path`), or None."""
    data = read_json_object(Path(adapter_dir) / CONFIG_NAME) or {}
    name = data.get("base_model_name_or_path")
    return name if isinstance(name, str) and name else None


def prepare_out_dir(out: str | Path) -> Path:
    """Create `out`; refuse an existing file or a directory that already holds files (nothing is overwritten)."""
    target = Path(out).expanduser()
    if target.exists() and not target.is_dir():
        raise ExportError(f"--out: {target} exists and is not a directory")
    if target.is_dir() and any(target.iterdir()):
        raise ExportError(f"--out: {target} is not empty; give a new directory")
    target.mkdir(parents=True, exist_ok=True)
    return target
