"""A tooltune adapter folded into its base model: a plain Hugging Face checkpoint that any server loads.

LoRA updates are added to the base weights (`merge_adapters`, summed in float32) and fully tuned linears
carry their trained weights; the tokenizer and its chat template are saved beside the model.
"""

from __future__ import annotations

from pathlib import Path

from tooltune.adapters import adapter_modules, load_adapter, merge_adapters
from tooltune.export.io import ExportError, prepare_out_dir, read_source_config, recorded_base
from tooltune.models.registry import load_trainable

MERGED_TYPES = ("lora", "full")
DTYPES = ("float32", "bfloat16")


def export_merged(adapter_dir: str | Path, out: str | Path, base: str | None = None,
                  dtype: str = "float32") -> Path:
    """Load the base (`base`: smollm2 | PATH, else the recorded one), attach and fold in the adapter, and
    save model + tokenizer to `out` in `dtype`. Returns `out`."""
    if dtype not in DTYPES:
        raise ExportError(f"--dtype must be one of {list(DTYPES)}, got {dtype!r}")
    read_source_config(adapter_dir, "a merged checkpoint", MERGED_TYPES)
    spec = base or recorded_base(adapter_dir)
    if spec is None:
        raise ExportError(f"{adapter_dir} does not record its base model; give --base (smollm2 | PATH)")
    target = prepare_out_dir(out)
    model, tokenizer = load_trainable(spec, dtype=dtype)
    load_adapter(model, adapter_dir)
    if adapter_modules(model):
        merge_adapters(model)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target
