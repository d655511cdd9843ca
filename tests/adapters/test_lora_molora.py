"""LoRA and MoLoRA layers: maths, routing (backbone route), routing losses, config validation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tooltune.adapters import AdapterConfig, AdapterConfigError, LoRAConfig, LoRALinear, MoLoRAConfig, MoLoRALinear
from tooltune.adapters.molora import (
    GENERAL,
    TOOL,
    UNLABELLED,
    routing_contrast_loss,
    set_routing_labels,
    switch_balance_loss,
)


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


def _molora(base: nn.Linear, **knobs) -> MoLoRALinear:
    return MoLoRAConfig(target_modules=["x"], **knobs).make_layer(base, "x")


def test_molora_with_one_expert_and_no_backbone_route_equals_lora() -> None:
    base = _base()
    lora = LoRALinear(base, r=4, alpha=2.0)
    molora = _molora(base, num_experts=1, r=4, alpha=2.0, backbone_route=False, routing_loss="balance")
    with torch.no_grad():
        lora.lora_B.normal_()
        molora.lora_A.copy_(lora.lora_A.unsqueeze(0))
        molora.lora_B.copy_(lora.lora_B.unsqueeze(0))
        molora.router.weight.normal_()
    x = torch.randn(2, 7, 16)
    torch.testing.assert_close(molora(x), lora(x), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("top_k", [None, 2])
def test_molora_is_the_gate_weighted_sum_of_its_experts_and_route_zero_adds_nothing(top_k: int | None) -> None:
    base = _base()
    layer = _molora(base, num_experts=3, r=2, alpha=4.0, top_k=top_k)
    assert layer.router.out_features == 4  # the backbone's route and three experts
    with torch.no_grad():
        layer.lora_B.normal_()
        layer.router.weight.normal_()
    x = torch.randn(5, 16)
    probs = torch.softmax(layer.router(x), dim=-1)
    expected = base(x).clone()
    for t in range(5):
        top = probs[t].topk(top_k or 4)
        for value, route in zip(top.values / top.values.sum(), top.indices):
            if route > 0:  # route 0 is the backbone: no update
                e = route - 1
                expected[t] += value * (layer.scaling * layer.lora_B[e] @ layer.lora_A[e] @ x[t])
    torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-6)


def test_input_routed_to_the_backbone_gets_the_base_output() -> None:
    base = _base()
    layer = _molora(base, num_experts=2, r=2)
    with torch.no_grad():
        layer.lora_B.normal_()
        layer.router.weight.zero_()
        layer.router.weight[0] = 50.0  # positive inputs: all mass on route 0
    x = torch.rand(4, 16) + 0.5
    torch.testing.assert_close(layer(x), base(x), rtol=0, atol=1e-5)
    assert not torch.allclose(layer(-x), base(-x), atol=1e-3)  # the experts answer the other inputs


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
    layer = _molora(_base(), num_experts=4, r=2, routing_weight=0.5, top_k=1, backbone_route=False,
                    routing_loss="balance")
    with torch.no_grad():
        layer.router.weight.zero_()  # uniform probabilities
    layer(torch.randn(10, 16))
    assert layer.auxiliary_loss().item() == pytest.approx(0.5)
    with torch.no_grad():
        layer.router.weight.zero_()
        layer.router.weight[2] = 5.0  # everything prefers expert 2
    layer(torch.rand(10, 16) + 0.1)
    assert layer.auxiliary_loss().item() > 0.5


def _masses(tool_on_experts: float, general_on_experts: float, experts: int = 4) -> torch.Tensor:
    """Router probabilities [2 samples, 3 tokens, 1 + experts]: sample 0 tool, sample 1 general."""
    rows = []
    for share in (tool_on_experts, general_on_experts):
        rows.append([1 - share] + [share / experts] * experts)
    return torch.tensor(rows).unsqueeze(1).expand(2, 3, experts + 1).clone()


def test_contrast_loss_prefers_tool_on_experts_and_general_on_the_backbone() -> None:
    kinds, mask = torch.tensor([TOOL, GENERAL]), torch.ones(2, 3)
    separated = routing_contrast_loss(_masses(0.9, 0.5), kinds, mask, contrast=0.3)
    reversed_ = routing_contrast_loss(_masses(0.5, 0.9), kinds, mask, contrast=0.3)
    assert separated < reversed_
    assert routing_contrast_loss(_masses(0.9, 0.5), torch.full((2,), UNLABELLED), mask, 0.3) is None
    # padding tokens do not count: a padded copy of the batch gives the same loss
    padded = torch.cat([_masses(0.9, 0.5), torch.rand(2, 2, 5)], dim=1)
    padded_mask = torch.cat([mask, torch.zeros(2, 2)], dim=1)
    torch.testing.assert_close(routing_contrast_loss(padded, kinds, padded_mask, 0.3), separated)


def test_a_contrast_loss_step_moves_tool_input_to_the_experts_and_general_to_the_backbone() -> None:
    torch.manual_seed(0)
    layer = _molora(_base(), num_experts=2, r=2, routing_weight=1.0, contrast=0.5)
    tool_x, general_x = torch.randn(3, 16) + 1.0, torch.randn(3, 16) - 1.0
    x = torch.stack([tool_x, general_x])

    def expert_mass() -> torch.Tensor:
        with torch.no_grad():
            return 1 - torch.softmax(layer.router(x), dim=-1)[..., 0].mean(dim=1)

    before = expert_mass()
    set_routing_labels(layer, torch.tensor([TOOL, GENERAL]), torch.ones(2, 3))
    optimizer = torch.optim.SGD(layer.router.parameters(), lr=0.5)
    for _ in range(20):
        optimizer.zero_grad()
        layer(x)
        layer.auxiliary_loss().backward()
        optimizer.step()
    after = expert_mass()
    assert after[0] > before[0] and after[1] < before[1]
    set_routing_labels(layer, None)
    layer(x)
    assert layer.auxiliary_loss() is None  # no labels, no contrast loss


def test_routing_loss_has_gradient_to_router() -> None:
    layer = _molora(_base(), num_experts=4, r=2)
    set_routing_labels(layer, torch.tensor([TOOL, GENERAL]), torch.ones(2, 3))
    layer(torch.randn(2, 3, 16))
    layer.auxiliary_loss().backward()
    assert layer.router.weight.grad is not None and layer.router.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"r": 0}, "r"),
    ({"alpha": -1}, "alpha"),
    ({"dropout": 1.5}, "dropout"),
    ({"num_experts": 2, "top_k": 3}, "top_k"),
    ({"routing_weight": -0.1}, "routing_weight"),
    ({"routing_loss": "magic"}, "routing_loss"),
    ({"backbone_route": False}, "backbone_route"),
    ({"contrast": 1.0}, "contrast"),
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
