"""A tooltune adapter rewritten in PEFT's own LoRA format, for `peft.PeftModel.from_pretrained` and vLLM.

Only updates that *are* a LoRA are written: LoRA itself, and O-LoRA, whose per-task LoRAs summed with one
scaling are exactly one LoRA of rank r * tasks (A and B stacked; lora_alpha * tasks keeps alpha / r).
Fully tuned linears become PEFT `modules_to_save` (their whole weight, exact; PEFT loads them, vLLM does
not). Input-routed adapters (MoLoRA, dual-rank) have no fixed weight update and are refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from tooltune.adapters.io import CONFIG_NAME, WEIGHTS_NAME
from tooltune.atomic import write_atomic, write_json_atomic
from tooltune.export.io import ExportError, prepare_out_dir, read_source_config, recorded_base

PEFT_PREFIX = "base_model.model."
PEFT_TYPES = ("lora", "olora")
LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<part>[AB])(?:\.(?P<task>\d+))?$")
def export_peft(adapter_dir: str | Path, out: str | Path, base_name: str | None = None) -> Path:
    """Write `adapter_dir` as a PEFT LoRA adapter in `out`; `base_name` (else the recorded base) is written
    as base_model_name_or_path. Returns `out`."""
    config = read_source_config(adapter_dir, "a PEFT LoRA", PEFT_TYPES)
    tensors = load_file(str(Path(adapter_dir) / WEIGHTS_NAME))
    peft_config, peft_tensors = peft_lora(config, tensors, base_name or recorded_base(adapter_dir))
    target = prepare_out_dir(out)
    write_json_atomic(target / CONFIG_NAME, peft_config, indent=2)
    write_atomic(target / WEIGHTS_NAME, lambda path: save_file(peft_tensors, str(path), metadata={"format": "pt"}))
    return target


def peft_lora(config: Any, tensors: dict[str, torch.Tensor], base_name: str | None
              ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """PEFT's adapter_config.json fields and its tensors (keys `base_model.model.<path>.lora_A.weight`)."""
    factors, kept = split_lora_tensors(tensors)
    tasks = getattr(config, "num_tasks", 1) if config.adapter_type == "olora" else 1
    out: dict[str, torch.Tensor] = {}
    for module, parts in sorted(factors.items()):
        a, b = stack_tasks(module, parts, tasks, config.r)
        out[f"{PEFT_PREFIX}{module}.lora_A.weight"] = a
        out[f"{PEFT_PREFIX}{module}.lora_B.weight"] = b
    out.update({PEFT_PREFIX + name: tensor for name, tensor in kept.items()})
    alpha = config.alpha * tasks
    peft_config = {
        "peft_type": "LORA", "task_type": "CAUSAL_LM", "base_model_name_or_path": base_name,
        "r": config.r * tasks, "lora_alpha": int(alpha) if float(alpha).is_integer() else alpha,
        "lora_dropout": config.dropout, "target_modules": sorted(factors),
        "modules_to_save": sorted({name.rsplit(".", 1)[0] for name in kept}) or None,
        "bias": "none", "fan_in_fan_out": False, "use_rslora": False, "use_dora": False,
        "init_lora_weights": True, "inference_mode": True,
    }
    return peft_config, out


def split_lora_tensors(tensors: dict[str, torch.Tensor]
                       ) -> tuple[dict[str, dict[tuple[str, int], torch.Tensor]], dict[str, torch.Tensor]]:
    """LoRA factors by module path and (A|B, task), and the other tensors (fully tuned linears' parameters)."""
    factors: dict[str, dict[tuple[str, int], torch.Tensor]] = {}
    kept: dict[str, torch.Tensor] = {}
    for name, tensor in tensors.items():
        found = LORA_KEY.match(name)
        if found is None:
            kept[name] = tensor.contiguous()
            continue
        task = int(found["task"]) if found["task"] is not None else 0
        factors.setdefault(found["module"], {})[(found["part"], task)] = tensor
    if not factors:
        raise ExportError("the adapter's tensors hold no lora_A / lora_B factors")
    return factors, kept


def stack_tasks(module: str, parts: dict[tuple[str, int], torch.Tensor], tasks: int, r: int
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """One LoRA from per-task factors: A rows and B columns stacked, so that B A = sum_t B_t A_t."""
    wanted = {(part, t) for part in "AB" for t in range(tasks)}
    if set(parts) != wanted:
        raise ExportError(f"{module}: expected lora_A/lora_B for {tasks} task(s), found {sorted(parts)}")
    a = torch.cat([parts[("A", t)] for t in range(tasks)], dim=0).contiguous()
    b = torch.cat([parts[("B", t)] for t in range(tasks)], dim=1).contiguous()
    if a.shape[0] != r * tasks or b.shape[1] != r * tasks:
        raise ExportError(f"{module}: lora_A {tuple(a.shape)} / lora_B {tuple(b.shape)} do not have rank {r}")
    return a, b
