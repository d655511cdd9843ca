"""LoRA and MoLoRA layers: maths, routing, balance loss, config validation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tooltune.adapters import AdapterConfig, AdapterConfigError, LoRAConfig, LoRALinear, MoLoRAConfig, MoLoRALinear
from tooltune.adapters.molora import switch_balance_loss


def _base(in_features: int = 16, out_features: int = 12) -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(in_features, out_features)


def test_lora_starts_as_identity_update_and_matches_formula() -> None:
    base = _base()
    layer = LoRALinear(base, r=4, alpha=8.0)
    x = torch.randn(3, 5, 16)
    assert torch.equal(layer(x), base(x))  # B = 0 at init
    with torch.no_grad():
        layer.lora_B.normal_()
    expected = base(x) + (8.0 / 4) * x @ layer.lora_A.t() @ layer.lora_B.t()
    torch.testing.assert_close(layer(x), expected)
    torch.testing.assert_close(layer.merged_weight() @ x[0, 0] + base.bias, layer(x)[0, 0])


def test_molora_with_one_expert_equals_lora() -> None:
    base = _base()
    lora = LoRALinear(base, r=4, alpha=2.0)
    molora = MoLoRALinear(base, num_experts=1, r=4, alpha=2.0)
    with torch.no_grad():
        lora.lora_B.normal_()
        molora.lora_A.copy_(lora.lora_A.unsqueeze(0))
        molora.lora_B.copy_(lora.lora_B.unsqueeze(0))
        molora.router.weight.normal_()
    x = torch.randn(2, 7, 16)
    torch.testing.assert_close(molora(x), lora(x), rtol=1e-6, atol=1e-6)


def test_molora_is_the_gate_weighted_sum_of_its_experts() -> None:
    base = _base()
    layer = MoLoRAConfig(target_modules=["x"], num_experts=3, r=2, alpha=4.0, top_k=2).make_layer(base, "x")
    with torch.no_grad():
        layer.lora_B.normal_()
        layer.router.weight.normal_()
    x = torch.randn(5, 16)
    probs = torch.softmax(layer.router(x), dim=-1)
    expected = base(x).clone()
    for t in range(5):
        top = probs[t].topk(2)
        for value, e in zip(top.values / top.values.sum(), top.indices):
            expected[t] += value * (layer.scaling * layer.lora_B[e] @ layer.lora_A[e] @ x[t])
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-6)


def test_balance_loss_is_one_for_uniform_router_and_larger_otherwise() -> None:
    tokens, experts = 64, 4
    uniform = torch.full((tokens, experts), 1 / experts)
    assert switch_balance_loss(uniform).item() == pytest.approx(1.0)
    torch.manual_seed(1)
    for _ in range(20):  # dense routing: N * sum P^2 >= 1 with equality only at uniform
        probs = torch.softmax(3 * torch.randn(tokens, experts), dim=-1)
        assert switch_balance_loss(probs).item() > 1.0
    collapsed = torch.zeros(tokens, experts)
    collapsed[:, 0] = 1.0
    assert switch_balance_loss(collapsed, routed=collapsed).item() == pytest.approx(experts)


def test_balance_loss_from_layer_is_weighted_and_minimal_with_zero_router() -> None:
    base = _base()
    layer = MoLoRALinear(base, num_experts=4, r=2, balance_weight=0.5, top_k=1)
    with torch.no_grad():
        layer.router.weight.zero_()  # uniform probabilities
    layer(torch.randn(10, 16))
    assert layer.auxiliary_loss().item() == pytest.approx(0.5)
    with torch.no_grad():
        layer.router.weight.zero_()
        layer.router.weight[2] = 5.0  # everything prefers expert 2
    layer(torch.rand(10, 16) + 0.1)
    assert layer.auxiliary_loss().item() > 0.5


def test_balance_loss_has_gradient_to_router() -> None:
    layer = MoLoRALinear(_base(), num_experts=4, r=2)
    layer(torch.randn(6, 16))
    layer.auxiliary_loss().backward()
    assert layer.router.weight.grad is not None and layer.router.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"r": 0}, "r"),
    ({"alpha": -1}, "alpha"),
    ({"dropout": 1.5}, "dropout"),
    ({"num_experts": 2, "top_k": 3}, "top_k"),
    ({"balance_weight": -0.1}, "balance_weight"),
    ({"target_modules": "q_proj"}, "target_modules"),
])
def test_molora_config_errors_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(AdapterConfigError, match=field):
        MoLoRAConfig(**{"target_modules": ["q_proj"], **kwargs})


def test_config_round_trip_through_registry() -> None:
    config = MoLoRAConfig(target_modules=["q_proj"], num_experts=3, top_k=2, full_tune_modules=["down_proj"])
    again = AdapterConfig.from_dict(config.to_dict())
    assert isinstance(again, MoLoRAConfig) and again == config
    lora = LoRAConfig(target_modules=["v_proj"], r=2)
    assert AdapterConfig.from_dict(lora.to_dict()) == lora
    with pytest.raises(AdapterConfigError, match="adapter_type"):
        AdapterConfig.from_dict({"adapter_type": "nope"})
    with pytest.raises(AdapterConfigError, match="bogus"):
        AdapterConfig.from_dict({**lora.to_dict(), "bogus": 1})
