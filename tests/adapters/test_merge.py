"""Merging a LoRA adapter into the base weights: same outputs, plain linears, routed adapters refused."""

from __future__ import annotations

import pytest
import torch

from tests.train.tiny import tiny_llama
from tooltune.adapters import AdapterConfigError, LoRAConfig, MoLoRAConfig, inject_adapters, merge_adapters, mergeable
from tooltune.adapters.model import adapter_modules

LINEARS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def trained_lora(dtype: torch.dtype = torch.float32):
    model = tiny_llama().to(dtype)
    inject_adapters(model, LoRAConfig(target_modules=LINEARS, r=4, alpha=8))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.normal_(std=0.05)
    return model


def test_merged_lora_gives_the_same_logits_through_plain_linears() -> None:
    model = trained_lora()
    ids = torch.randint(0, 256, (2, 12))
    before = model(input_ids=ids).logits
    assert mergeable(model)
    merged = merge_adapters(model)
    assert len(merged) == 2 * len(LINEARS) and not adapter_modules(model)
    assert all(type(model.get_submodule(n)) is torch.nn.Linear for n in merged)
    torch.testing.assert_close(model(input_ids=ids).logits, before, atol=1e-5, rtol=1e-4)


def test_merge_in_bf16_keeps_the_update() -> None:
    model = trained_lora(torch.bfloat16)
    layer = model.get_submodule("model.layers.0.self_attn.q_proj")
    base = layer.base.weight.detach().float().clone()
    update = (layer.lora_B.float() @ layer.lora_A.float()) * layer.scaling
    merge_adapters(model)
    merged = model.get_submodule("model.layers.0.self_attn.q_proj").weight.float()
    assert not torch.equal(merged, base)  # the update survived the bf16 rounding
    torch.testing.assert_close(merged, base + update, atol=2e-2, rtol=1e-2)


def test_input_routed_adapters_cannot_be_merged() -> None:
    model = tiny_llama()
    inject_adapters(model, MoLoRAConfig(target_modules=["down_proj"], num_experts=2, r=2))
    assert not mergeable(model)
    with pytest.raises(AdapterConfigError, match="fixed weight"):
        merge_adapters(model)


def _random_lora_b(model: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn(param.shape, generator=generator) * 0.05)


def test_an_adapter_trained_on_top_of_another_loads_both(tmp_path) -> None:
    """An adapter whose metadata names a base adapter (a folder inside it) is loaded on the model with that
    base merged first, as it was trained; without its base the outputs differ."""
    import shutil

    from tooltune.adapters import save_adapter
    from tooltune.adapters.io import AdapterLoadError, base_adapter_dir
    from tooltune.models.base import ModelError
    from tooltune.models.hf_local import attach_adapter

    config = LoRAConfig(target_modules=LINEARS, r=4, alpha=8)
    first = tiny_llama()
    inject_adapters(first, config)
    _random_lora_b(first, 1)
    save_adapter(first, tmp_path / "agent")
    merge_adapters(first)  # the student starts from the agent merged in, then trains a LoRA of its own
    inject_adapters(first, config, seed=3)
    _random_lora_b(first, 2)
    save_adapter(first, tmp_path / "user", metadata={"base_adapter": "base_adapter"})
    shutil.copytree(tmp_path / "agent", tmp_path / "user" / "base_adapter")
    ids = torch.randint(0, 256, (2, 12))
    expected = first(input_ids=ids).logits

    assert base_adapter_dir(tmp_path / "user") == tmp_path / "user" / "base_adapter"
    assert base_adapter_dir(tmp_path / "agent") is None
    loaded = attach_adapter(tiny_llama(), tmp_path / "user")
    torch.testing.assert_close(loaded(input_ids=ids).logits, expected, atol=1e-5, rtol=1e-4)
    shutil.rmtree(tmp_path / "user" / "base_adapter")
    with pytest.raises(AdapterLoadError, match="base adapter"):
        base_adapter_dir(tmp_path / "user")
    with pytest.raises(ModelError, match="base adapter"):
        attach_adapter(tiny_llama(), tmp_path / "user")
