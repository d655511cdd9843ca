"""Injection touches only the planned modules; save -> load reproduces outputs exactly."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from tests.train.tiny import tiny_llama, tiny_qwen2
from tooltune.adapters import (
    AdapterConfigError,
    AdapterLoadError,
    FullTuneConfig,
    LoRAConfig,
    MoLoRAConfig,
    MoLoRALinear,
    adapter_modules,
    adapter_parameters,
    inject_adapters,
    load_adapter,
    save_adapter,
)
from tooltune.adapters.dual_rank import DualRankConfig
from tooltune.adapters.olora import OLoRAConfig, add_olora_task


def _randomise_adapters(model: nn.Module) -> None:
    torch.manual_seed(5)
    with torch.no_grad():
        for param in adapter_parameters(model).values():
            param.add_(0.1 * torch.randn_like(param))


@pytest.mark.parametrize("factory", [tiny_llama, tiny_qwen2])
def test_injection_touches_only_planned_modules(factory) -> None:
    model = factory()
    before = {name: type(m) for name, m in model.named_modules()}
    state_before = {k: v.clone() for k, v in model.state_dict().items()}
    planned = ["model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj"]
    wrapped = inject_adapters(model, MoLoRAConfig(target_modules=planned + ["v_proj"]))
    assert wrapped == ["model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                       "model.layers.1.self_attn.v_proj", "model.layers.1.mlp.down_proj"]
    after = dict(model.named_modules())
    for name, kind in before.items():
        if name in wrapped:
            assert isinstance(after[name], MoLoRALinear)
            assert torch.equal(after[name].base.weight, state_before[name + ".weight"])
        else:
            assert type(after[name]) is kind, name
    assert set(adapter_modules(model)) == set(wrapped)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == set(adapter_parameters(model))
    assert all(".base." not in n for n in trainable)


def test_injected_model_starts_with_the_base_outputs() -> None:
    model = tiny_llama()
    ids = torch.randint(0, 256, (2, 9))
    reference = model(ids).logits
    inject_adapters(model, LoRAConfig(target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                      "up_proj", "down_proj"], r=4))
    torch.testing.assert_close(model(ids).logits, reference)


def test_injection_errors_name_the_problem() -> None:
    model = tiny_llama()
    with pytest.raises(AdapterConfigError, match="target_modules.*nonexistent"):
        inject_adapters(model, LoRAConfig(target_modules=["nonexistent_proj"]))
    with pytest.raises(AdapterConfigError, match="not nn.Linear"):
        inject_adapters(model, LoRAConfig(target_modules=["model.layers.0.mlp"]))
    inject_adapters(model, LoRAConfig(target_modules=["q_proj"]))
    with pytest.raises(AdapterConfigError, match="already"):
        inject_adapters(model, LoRAConfig(target_modules=["k_proj"]))


@pytest.mark.parametrize("config", [
    LoRAConfig(target_modules=["q_proj", "v_proj"], r=4),
    MoLoRAConfig(target_modules=["q_proj", "up_proj"], num_experts=3, top_k=2,
                 full_tune_modules=["model.layers.1.mlp.down_proj"]),
    FullTuneConfig(full_tune_modules=["down_proj"]),
])
def test_save_load_round_trip_is_exact(tmp_path, config) -> None:
    model = tiny_llama()
    inject_adapters(model, config)
    _randomise_adapters(model)
    ids = torch.randint(0, 256, (2, 11))
    expected = model(ids).logits
    save_adapter(model, tmp_path / "adapter")
    stored = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert stored["adapter_type"] == config.adapter_type
    assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()

    fresh = tiny_llama()  # same seed -> same base weights
    assert not torch.equal(fresh(ids).logits, expected)
    wrapped = load_adapter(fresh, tmp_path / "adapter")
    assert wrapped == sorted(wrapped, key=[n for n, _ in fresh.named_modules()].index)
    assert torch.equal(fresh(ids).logits, expected)


def test_saved_tensors_are_adapter_only(tmp_path) -> None:
    from safetensors.torch import load_file

    model = tiny_llama()
    inject_adapters(model, LoRAConfig(target_modules=["q_proj"], r=2, full_tune_modules=["layers.0.mlp.down_proj"]))
    save_adapter(model, tmp_path)
    keys = set(load_file(str(tmp_path / "adapter_model.safetensors")))
    assert keys == {f"model.layers.{i}.self_attn.q_proj.lora_{m}" for i in range(2) for m in "AB"} | {
        "model.layers.0.mlp.down_proj.weight"}


def test_load_rejects_mismatched_model(tmp_path) -> None:
    model = tiny_llama()
    inject_adapters(model, LoRAConfig(target_modules=["q_proj"], r=2))
    save_adapter(model, tmp_path)
    other = tiny_qwen2()
    other.model.layers[0].self_attn.q_proj = nn.Linear(32, 48)
    with pytest.raises(AdapterLoadError, match="shape"):
        load_adapter(other, tmp_path)


def _seeded_adapter(config, seed: int | None, noise: int) -> dict[str, torch.Tensor]:
    model = tiny_llama()
    torch.manual_seed(noise)
    torch.rand(noise + 1)  # other code drew a different amount of random numbers before the injection
    inject_adapters(model, config, seed=seed)
    return {n: p.detach().clone() for n, p in adapter_parameters(model).items()}


@pytest.mark.parametrize("config", [
    LoRAConfig(target_modules=["q_proj", "down_proj"], r=2),
    MoLoRAConfig(target_modules=["q_proj", "down_proj"], num_experts=2, r=2),
    OLoRAConfig(target_modules=["v_proj"], r=2, num_tasks=2),
    DualRankConfig(target_modules=["q_proj", "up_proj"], rank_low=2, rank_high=3),
], ids=["lora", "molora", "olora", "dual_rank"])
def test_the_seed_alone_decides_the_initial_adapter(config) -> None:
    first, second = _seeded_adapter(config, 7, noise=1), _seeded_adapter(config, 7, noise=2)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[n], second[n]) for n in first)
    other = _seeded_adapter(config, 8, noise=1)
    assert any(not torch.equal(first[n], other[n]) for n in first if "lora_A" in n)


def test_a_seeded_injection_leaves_the_global_rng_alone() -> None:
    model = tiny_llama()
    torch.manual_seed(3)
    expected = torch.rand(4)
    torch.manual_seed(3)
    inject_adapters(model, LoRAConfig(target_modules=["q_proj"], r=2), seed=0)
    assert torch.equal(torch.rand(4), expected)


def test_a_new_olora_task_is_drawn_from_its_seed() -> None:
    draws = []
    for noise in (1, 2):
        model = tiny_llama()
        config = OLoRAConfig(target_modules=["v_proj"], r=2)
        inject_adapters(model, config, seed=0)
        torch.manual_seed(noise)
        add_olora_task(model, config, seed=1)
        draws.append(model.get_submodule("model.layers.0.self_attn.v_proj").lora_A[1].detach().clone())
    assert torch.equal(draws[0], draws[1])
