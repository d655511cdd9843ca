"""Adapters on the real embedded SmolLM2 (slow): injection targets, exact save -> load through the model layer."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.slow


def test_molora_on_smollm2_round_trips_through_the_chat_model(tmp_path) -> None:
    from tooltune.adapters import MoLoRAConfig, MoLoRALinear, adapter_parameters, inject_adapters, save_adapter
    from tooltune.models.embedded import load_embedded_model
    from tooltune.models.hf_local import HFChatModel

    model, tokenizer = load_embedded_model()
    names = inject_adapters(model, MoLoRAConfig(target_modules=["q_proj", "down_proj"], full_tune_modules=[
        "model.layers.29.mlp.up_proj"]))
    assert len(names) == 2 * model.config.num_hidden_layers
    assert all(isinstance(model.get_submodule(n), MoLoRALinear) for n in names)
    torch.manual_seed(0)
    with torch.no_grad():
        for param in adapter_parameters(model).values():
            param.add_(0.01 * torch.randn_like(param))
    ids = tokenizer("The weather in Paris is", return_tensors="pt")["input_ids"]
    expected = model(ids).logits
    save_adapter(model, tmp_path / "adapter")

    fresh, _ = load_embedded_model()
    chat = HFChatModel(fresh, tokenizer, adapter=tmp_path / "adapter")
    assert torch.equal(chat.model(ids).logits, expected)
