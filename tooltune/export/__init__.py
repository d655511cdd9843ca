"""Exports of a tooltune adapter that other tools load: PEFT LoRA files (peft, vLLM) and merged checkpoints
(transformers, vLLM, llama.cpp after GGUF conversion). Layer 2: it loads base models through `models`."""

from __future__ import annotations

from pathlib import Path

from tooltune.export.io import ExportError
from tooltune.export.merged import export_merged
from tooltune.export.peft import export_peft

FORMATS = ("peft", "merged")


def export_adapter(adapter_dir: str | Path, form: str, out: str | Path, base: str | None = None,
                   dtype: str = "float32") -> Path:
    """Export in `form` (peft | merged). `base`: for peft the name written as base_model_name_or_path, for
    merged the model to load (smollm2 | PATH); both default to the base the adapter recorded."""
    if form == "peft":
        return export_peft(adapter_dir, out, base_name=base)
    if form == "merged":
        return export_merged(adapter_dir, out, base=base, dtype=dtype)
    raise ExportError(f"--format must be one of {list(FORMATS)}, got {form!r}")


__all__ = ["FORMATS", "ExportError", "export_adapter", "export_merged", "export_peft"]
