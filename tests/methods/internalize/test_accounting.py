import pytest

from tooltune.methods.internalize.metrics import ApproachResult, count_parameters, forward_flops, format_table


def test_flops_are_two_times_parameters_times_tokens():
    assert forward_flops(134_515_008, 100) == 2 * 134_515_008 * 100
    assert forward_flops(10, 0) == 0
    with pytest.raises(ValueError):
        forward_flops(-1, 3)


def test_approach_result_means_and_flops():
    r = ApproachResult("internalized", correct=3, total=4, prompt_tokens=[10, 20], completion_tokens=[5, 7], parameters=1000)
    assert r.accuracy == 0.75
    assert r.mean_prompt_tokens == 15
    assert r.prompt_flops == 2 * 1000 * 15
    assert r.total_flops == 2 * 1000 * (15 + 6)
    assert r.to_dict()["prompt_gflops"] == pytest.approx(30000 / 1e9)


def test_table_ratio_against_cheapest():
    rows = [
        ApproachResult("knowledge+few-shot", 1, 2, [120], [10], 100),
        ApproachResult("internalized", 2, 2, [30], [10], 100),
    ]
    table = format_table(rows)
    assert "4.00" in table.splitlines()[2] and "1.00" in table.splitlines()[3]


def test_parameters_counted_once_and_without_adapters(tiny_model):
    import torch

    base = count_parameters(tiny_model)
    tiny_model.model.layers[0].self_attn.q_proj.lora_A = torch.nn.Parameter(torch.zeros(4, 32))
    assert count_parameters(tiny_model) == base
    assert base == sum(p.numel() for p in {id(p): p for p in tiny_model.parameters()}.values()) - 4 * 32
