"""`tooltune export`: an adapter in a form other tools load (PEFT LoRA files, or a merged checkpoint)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

FORMAT_HELP = ("peft: PEFT LoRA files (peft.PeftModel.from_pretrained, vLLM --lora-modules) | "
               "merged: a plain Hugging Face checkpoint with the adapter folded in (transformers, vLLM, GGUF)")
BASE_HELP = ("merged: the base model to load (smollm2 | PATH); peft: the name written as base_model_name_or_path "
             "(e.g. the hub id a server loads). Default: the base the adapter recorded.")


def export(
    adapter_dir: Path = typer.Argument(..., help="A tooltune adapter directory (adapter_config.json + "
                                       "adapter_model.safetensors)."),
    form: str = typer.Option(..., "--format", help=FORMAT_HELP),
    out: Path = typer.Option(..., "--out", help="New (or empty) output directory."),
    base: Optional[str] = typer.Option(None, "--base", help=BASE_HELP),
    dtype: str = typer.Option("float32", "--dtype", help="merged: float32 | bfloat16, the saved weights' type."),
) -> None:
    """Export an adapter for peft / vLLM (LoRA) or as a merged checkpoint; input-routed adapters are refused."""
    from tooltune.export import export_adapter

    written = export_adapter(adapter_dir, form, out, base=base, dtype=dtype)
    typer.echo(f"wrote {form} export to {written}")


def register(root: typer.Typer) -> None:
    """Add `tooltune export`."""
    root.command("export")(export)
