"""`tooltune export`: PEFT LoRA files that peft loads, merged checkpoints that transformers loads, both with
the logits of tooltune's own adapter; input-routed adapters refused with the reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from tests.train.run_cli import run_cli
from tests.train.tiny import tiny_llama, tiny_tokenizer
from tooltune.adapters import LoRAConfig, MoLoRAConfig, adapter_parameters, inject_adapters, save_adapter
from tooltune.adapters.dual_rank import DualRankConfig
from tooltune.adapters.olora import OLoRAConfig, add_olora_task
from tooltune.export import ExportError, export_adapter, export_merged, export_peft

# float32 throughout: the exports add the same products in another order, so logits agree to rounding only
TOLERANCE = {"atol": 1e-5, "rtol": 1e-4}
FULL = "model.layers.1.mlp.down_proj"


def _randomise(model: torch.nn.Module, seed: int = 3) -> None:
    """Nonzero B (and changed fully tuned weights), so that an export that drops anything changes the logits."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in adapter_parameters(model).values():
            param.add_(0.2 * torch.randn(param.shape, generator=generator))


def _adapted(config, path: Path, tasks: int = 1) -> tuple[torch.nn.Module, Path]:
    model = tiny_llama()
    inject_adapters(model, config, seed=0)
    for task in range(1, tasks):
        add_olora_task(model, config, seed=task)
    _randomise(model)
    return model, save_adapter(model, path)


def _logits(model: torch.nn.Module) -> torch.Tensor:
    ids = torch.arange(40).reshape(2, 20) % 256
    with torch.no_grad():
        return model(input_ids=ids).logits


CONFIGS = {
    "lora": lambda: (LoRAConfig(target_modules=["q_proj", "v_proj", "down_proj"], r=4, alpha=8), 1),
    "lora+full": lambda: (LoRAConfig(target_modules=["q_proj", "o_proj"], full_tune_modules=[FULL], r=2, alpha=5), 1),
    "olora x3": lambda: (OLoRAConfig(target_modules=["k_proj", "up_proj"], r=2, alpha=4), 3),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_peft_loads_the_export_with_the_same_logits(tmp_path: Path, name: str) -> None:
    from peft import PeftModel

    config, tasks = CONFIGS[name]()
    model, adapter = _adapted(config, tmp_path / "adapter", tasks)
    out = export_peft(adapter, tmp_path / "peft", base_name="tiny-llama")
    written = json.loads((out / "adapter_config.json").read_text())
    assert written["peft_type"] == "LORA" and written["r"] == config.r * tasks
    assert written["base_model_name_or_path"] == "tiny-llama"
    keys = load_file(str(out / "adapter_model.safetensors"))
    assert all(k.startswith("base_model.model.model.layers.") for k in keys)
    assert any(k.endswith(".lora_A.weight") for k in keys)
    loaded = PeftModel.from_pretrained(tiny_llama(), out).eval()
    torch.testing.assert_close(_logits(loaded), _logits(model), **TOLERANCE)
    assert not torch.allclose(_logits(tiny_llama()), _logits(model), atol=1e-3)  # the adapter matters


def test_fully_tuned_linears_become_modules_to_save(tmp_path: Path) -> None:
    config, _ = CONFIGS["lora+full"]()
    _, adapter = _adapted(config, tmp_path / "adapter")
    written = json.loads((export_peft(adapter, tmp_path / "peft") / "adapter_config.json").read_text())
    assert written["modules_to_save"] == [FULL]
    assert written["target_modules"] == sorted(f"model.layers.{i}.self_attn.{m}" for i in (0, 1) for m in ("o_proj", "q_proj"))


@pytest.mark.parametrize("config", [
    MoLoRAConfig(target_modules=["down_proj"], num_experts=2, r=2),
    DualRankConfig(target_modules=["q_proj"], rank_low=2, rank_high=4, num_tasks=1),
], ids=["molora", "dual_rank"])
@pytest.mark.parametrize("form", ["peft", "merged"])
def test_input_routed_adapters_are_refused_with_the_reason(tmp_path: Path, config, form: str) -> None:
    _, adapter = _adapted(config, tmp_path / "adapter")
    with pytest.raises(ExportError, match="computed from each input") as refused:
        export_adapter(adapter, form, tmp_path / "out", base="unused")
    assert "--adapter" in str(refused.value)
    assert not (tmp_path / "out").exists()


def _saved_base(path: Path) -> Path:
    tiny_llama().save_pretrained(path)
    tiny_tokenizer().save_pretrained(path)
    return path


@pytest.mark.parametrize("name", ["lora", "lora+full"])
def test_merged_checkpoint_has_the_same_logits(tmp_path: Path, name: str) -> None:
    base = _saved_base(tmp_path / "base")
    config, _ = CONFIGS[name]()
    model = AutoModelForCausalLM.from_pretrained(base).eval()  # records `base` as its base model
    inject_adapters(model, config, seed=0)
    _randomise(model)
    adapter = save_adapter(model, tmp_path / "adapter")
    out = export_merged(adapter, tmp_path / "merged")
    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    assert not any("lora" in k for k in merged.state_dict())
    torch.testing.assert_close(_logits(merged), _logits(model), **TOLERANCE)
    assert AutoTokenizer.from_pretrained(out).chat_template == tiny_tokenizer().chat_template


def test_cli_exports_and_refuses_with_one_error_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    _, adapter = _adapted(LoRAConfig(target_modules=["q_proj"], r=2), tmp_path / "adapter")
    code, out, _ = run_cli(["export", str(adapter), "--format", "peft", "--out", str(tmp_path / "p")], capsys)
    assert code == 0 and "wrote peft export" in out and (tmp_path / "p" / "adapter_config.json").is_file()
    code, _, err = run_cli(["export", str(adapter), "--format", "peft", "--out", str(tmp_path / "p")], capsys)
    assert code == 2 and "not empty" in err
    code, _, err = run_cli(["export", str(adapter), "--format", "gguf", "--out", str(tmp_path / "g")], capsys)
    assert code == 2 and "--format" in err
    code, _, err = run_cli(["export", str(tmp_path), "--format", "merged", "--out", str(tmp_path / "m")], capsys)
    assert code == 2 and "no adapter_config.json" in err
