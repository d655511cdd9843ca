"""Dual-rank adapter, decomposed attention router and stochastic restoration on a tiny in-memory Llama."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM

from tooltune.adapters import AdapterConfigError, inject_adapters, load_adapter, save_adapter
from tooltune.adapters.decomposed_attention import AdapterRouting, DecomposedAttention, gram_schmidt_extend, layer_index
from tooltune.adapters.dual_rank import DualRankConfig, DualRankLinear, StochasticRestoration, get_dual_rank


def tiny_llama(seed: int = 0) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64, pad_token_id=0,
    )
    return LlamaForCausalLM(config).eval()


def inject_dual_rank(model: nn.Module, config: DualRankConfig) -> AdapterRouting:
    inject_adapters(model, config)
    return get_dual_rank(model)


def randomize_b(model: nn.Module) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, DualRankLinear):
                m.lora_B_low.normal_(0, 0.5)
                m.lora_B_high.normal_(0, 0.5)


def ids(batch: int = 2, length: int = 7, seed: int = 1) -> torch.Tensor:
    return torch.randint(1, 64, (batch, length), generator=torch.Generator().manual_seed(seed))


def base_then_adapted(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor, AdapterRouting]:
    """(input, base logits, routing) after injecting dual-rank adapters and adding one task."""
    x = ids()
    with torch.no_grad():
        base = model(x).logits.clone()
    handle = inject_dual_rank(model, DualRankConfig())
    handle.add_task()
    return x, base, handle


def test_weights_forced_to_zero_give_the_base_model() -> None:
    model = tiny_llama()
    x, base, handle = base_then_adapted(model)
    randomize_b(model)
    with torch.no_grad():
        adapted = model(x).logits
        handle.forced_scales = 0.0
        forced = model(x).logits
    assert not torch.allclose(adapted, base, atol=1e-3)
    torch.testing.assert_close(forced, base, atol=1e-6, rtol=0)


def test_fresh_adapter_and_task_growth_leave_the_model_unchanged_while_b_is_zero() -> None:
    model = tiny_llama()
    x, base, handle = base_then_adapted(model)
    handle.add_task()
    with torch.no_grad():
        torch.testing.assert_close(model(x).logits, base, atol=1e-6, rtol=0)


def test_a_matrices_are_gaussian_with_std_one_over_rank_and_drawn_from_the_seed() -> None:
    def injected(seed: int) -> nn.Module:
        model = tiny_llama()
        inject_adapters(model, DualRankConfig(rank_low=4, rank_high=16, seed=seed), seed=seed)
        get_dual_rank(model).add_task()
        return model

    first, again, other = injected(7), injected(7), injected(8)
    state = {n: p for n, p in first.named_parameters() if p.requires_grad}
    assert any("router" in n for n in state) and any("lora_A_high" in n for n in state)
    assert all(torch.equal(p, dict(again.named_parameters())[n]) for n, p in state.items())
    assert not torch.equal(state["dual_rank_router.keys.0"], dict(other.named_parameters())["dual_rank_router.keys.0"])
    high = torch.cat([m.lora_A_high.flatten() for m in first.modules() if isinstance(m, DualRankLinear)])
    low = torch.cat([m.lora_A_low.flatten() for m in first.modules() if isinstance(m, DualRankLinear)])
    assert abs(high.std().item() - 1 / 16) < 0.1 / 16 and abs(low.std().item() - 1 / 4) < 0.1 / 4


def test_injection_targets_freezes_backbone_and_groups_layers() -> None:
    model = tiny_llama()
    handle = inject_dual_rank(model, DualRankConfig(target_modules=["q_proj", "down_proj"], layers_per_group=1))
    names = [n for n, _ in handle.layers]
    assert names == [
        "model.layers.0.self_attn.q_proj", "model.layers.0.mlp.down_proj",
        "model.layers.1.self_attn.q_proj", "model.layers.1.mlp.down_proj",
    ]
    assert [m.group for _, m in handle.layers] == [0, 0, 1, 1]
    assert handle.router.num_groups == 2
    assert not any(p.requires_grad for n, p in model.named_parameters() if "lora_" not in n and "router" not in n)
    assert get_dual_rank(model) is handle
    with pytest.raises(AdapterConfigError, match="target_modules"):
        inject_dual_rank(tiny_llama(), DualRankConfig(target_modules=["nonexistent"]))


def test_per_sequence_scales_ignore_padding_and_per_token_scales_follow_tokens() -> None:
    model = tiny_llama()
    handle = inject_dual_rank(model, DualRankConfig(layers_per_group=1))
    handle.add_task()
    with torch.no_grad():
        for w in handle.router.weights:
            w.normal_()
        x = ids(batch=1, length=5)
        model(x)
        alone = handle.last_scales.clone()
        padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), x], 1)
        model(padded, attention_mask=(padded != 0).long() | torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1]]))
        assert handle.last_scales.shape == (1, 2, 2)
        torch.testing.assert_close(handle.last_scales, alone)
        assert ((alone > 0) & (alone < 1)).all()
    per_token = tiny_llama()
    h2 = inject_dual_rank(per_token, DualRankConfig(per_token=True, layers_per_group=1))
    h2.add_task()
    with torch.no_grad():
        per_token(ids(batch=2, length=6))
    assert h2.last_scales.shape == (2, 6, 2, 2)
    assert h2.layers[0][1].scales.shape == (2, 6, 2)


def test_training_query_matches_cached_generation() -> None:
    model = tiny_llama()
    handle = inject_dual_rank(model, DualRankConfig())
    handle.add_task()
    randomize_b(model)
    with torch.no_grad():
        for w in handle.router.weights:
            w.normal_(0, 2)
        prompt = ids(batch=1, length=6)
        generated = model.generate(prompt, max_new_tokens=4, do_sample=False, pad_token_id=0)
        # Without a cache, pass the new tokens as labels so the query is the prompt, as in training.
        seq = prompt
        for _ in range(4):
            labels = torch.full_like(seq, -100)
            labels[:, prompt.shape[1]:] = seq[:, prompt.shape[1]:]
            nxt = model(seq, labels=labels).logits[:, -1].argmax(-1, keepdim=True)
            seq = torch.cat([seq, nxt], 1)
    assert torch.equal(generated, seq)


def _train_steps(model: nn.Module, handle, steps: int) -> None:
    trainable = handle.trainable_parameter_names()
    params = [p for n, p in model.named_parameters() if n in trainable]
    assert params
    opt = torch.optim.AdamW(params, lr=0.05)
    model.train()
    for step in range(steps):
        x = ids(batch=2, length=6, seed=step)
        loss = model(x, labels=x).loss + handle.router.auxiliary_loss()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


@pytest.mark.parametrize("per_token", [False, True])
def test_earlier_components_do_not_change_while_a_later_task_trains(per_token: bool) -> None:
    model = tiny_llama()
    handle = inject_dual_rank(model, DualRankConfig(per_token=per_token))
    handle.add_task()
    _train_steps(model, handle, 3)
    router = handle.router
    first = [p[0].detach().clone() for p in (router.keys, router.attention, router.weights)]
    assert handle.add_task() == 1
    assert not any(p[0].requires_grad for p in (router.keys, router.attention, router.weights))
    assert all(p[1].requires_grad for p in (router.keys, router.attention, router.weights))
    new_before = [p[1].detach().clone() for p in (router.keys, router.attention, router.weights)]
    _train_steps(model, handle, 3)
    for old, param in zip(first, (router.keys, router.attention, router.weights)):
        assert torch.equal(param[0], old)
    assert any(not torch.equal(p[1], b) for p, b in zip((router.keys, router.attention, router.weights), new_before))
    assert "dual_rank_router.keys.1" in handle.trainable_parameter_names()
    assert "dual_rank_router.keys.0" not in handle.trainable_parameter_names()


def test_the_orthogonality_penalty_falls_with_training() -> None:
    model = tiny_llama()
    handle = inject_dual_rank(model, DualRankConfig(layers_per_group=1))
    handle.add_task()
    noise = torch.Generator().manual_seed(0)
    with torch.no_grad():  # rows pushed off orthonormal, as the LM loss pushes them
        for params in (handle.router.keys, handle.router.attention, handle.router.weights):
            params[0].add_(0.3 * torch.randn(params[0].shape, generator=noise))
    before = handle.router.orthogonality_penalty().item()
    _train_steps(model, handle, 15)
    after = handle.router.orthogonality_penalty().item()
    assert before > 0.01 and after < 0.5 * before, (before, after)


def test_new_rows_are_orthonormal_to_old_rows() -> None:
    router = DecomposedAttention(query_dim=40, num_groups=3, rows_per_task=8)
    router.add_task()
    with torch.no_grad():  # old rows drift during training; new ones must still be orthogonal to them
        for params in (router.keys, router.attention, router.weights):
            params[0].add_(0.3 * torch.randn_like(params[0]))
    router.add_task()
    router.add_task()
    for params in (router.keys, router.attention, router.weights):
        for g in range(3):
            for o in range(2):  # separate rows per adapter (low, high)
                old = torch.cat([params[0][g, o], params[1][g, o]])
                new = params[2][g, o]
                assert (new @ old.T).abs().max() < 1e-5
                torch.testing.assert_close(new @ new.T, torch.eye(8), atol=1e-5, rtol=0)
    assert not torch.equal(router.keys[2][0, 0], router.keys[2][0, 1])


def test_orthogonality_loss_is_zero_at_init_and_trains_only_new_rows() -> None:
    router = DecomposedAttention(query_dim=16, num_groups=2, rows_per_task=4, orthogonality_weight=1.0)
    router.add_task()
    assert router.auxiliary_loss().item() < 1e-10
    with torch.no_grad():
        router.keys[0].mul_(2.0)
    router.add_task()
    loss = router.auxiliary_loss()
    assert loss.item() > 0.1
    loss.backward()
    assert router.keys[0].grad is None
    assert router.keys[1].grad is not None and router.keys[1].grad.abs().sum() > 0
    assert DecomposedAttention(16, 2, 4, orthogonality_weight=0.0).auxiliary_loss() is None


def test_gram_schmidt_refuses_more_rows_than_dimensions() -> None:
    with pytest.raises(ValueError, match="rows_per_task"):
        gram_schmidt_extend(torch.randn(6, 8), 3, torch.Generator().manual_seed(0))


def test_router_forward_is_sigmoid_of_weighted_cosines_per_adapter() -> None:
    router = DecomposedAttention(query_dim=6, num_groups=2, rows_per_task=2, num_outputs=2)
    router.add_task()
    q = torch.randn(3, 6)
    for o in range(2):
        k, a, w = router.keys[0][1, o], router.attention[0][1, o], router.weights[0][1, o]
        alpha = torch.stack([torch.cosine_similarity(q * a[m], k[m].expand_as(q), dim=-1) for m in range(2)], -1)
        expected = torch.sigmoid(alpha @ w.sum(-1))
        torch.testing.assert_close(router(q, 1)[:, o], expected, atol=1e-5, rtol=0)


def test_each_group_is_queried_with_the_hidden_state_entering_it() -> None:
    model = tiny_llama()
    handle = inject_dual_rank(model, DualRankConfig(layers_per_group=1))
    handle.add_task()
    randomize_b(model)
    x = ids(batch=2, length=5)
    with torch.no_grad():
        hidden = model(x, output_hidden_states=True).hidden_states  # [i] enters decoder layer i
        for group in (0, 1):
            expected = handle.router(hidden[group].mean(1), group)
            torch.testing.assert_close(handle.group_scales[group], expected, atol=1e-6, rtol=0)
            assert all(torch.equal(m.scales, expected) for _, m in handle.layers if m.group == group)
    assert not torch.allclose(handle.group_scales[0], handle.group_scales[1])


def test_restoration_resets_exactly_the_chosen_fraction() -> None:
    params = [nn.Parameter(torch.randn(10, 30)), nn.Parameter(torch.randn(7))]
    restore = StochasticRestoration(params, rate=0.25, seed=3)
    with pytest.raises(RuntimeError, match="snapshot"):
        restore.restore()
    restore.snapshot()
    start = [p.detach().clone() for p in params]
    with torch.no_grad():
        for p in params:
            p.add_(1.0)
    total = restore.restore()
    restored = [int((p == s).sum()) for p, s in zip(params, start)]
    assert restored == [75, 2]  # round(0.25 * 300), round(0.25 * 7)
    assert total == 77
    assert all(int((p == s + 1.0).sum()) == p.numel() - r for p, s, r in zip(params, start, restored))


def test_dual_rank_linear_matches_the_formula() -> None:
    base = nn.Linear(12, 9)
    layer = DualRankLinear(base, rank_low=2, rank_high=3)
    with torch.no_grad():
        layer.lora_B_low.normal_()
        layer.lora_B_high.normal_()
    x = torch.randn(4, 5, 12)
    s = torch.rand(4, 2)
    layer.scales = s
    low = x @ layer.lora_A_low.T @ layer.lora_B_low.T
    high = x @ layer.lora_A_high.T @ layer.lora_B_high.T
    expected = base(x) + s[:, None, :1] * low + s[:, None, 1:] * high
    torch.testing.assert_close(layer(x), expected, atol=1e-5, rtol=1e-5)
    layer.scales = torch.rand(3, 2)
    with pytest.raises(ValueError, match="batch"):
        layer(x)


def test_config_validation_names_the_field() -> None:
    with pytest.raises(ValueError, match="rank_low"):
        DualRankConfig(rank_low=0)
    with pytest.raises(ValueError, match="restoration_rate"):
        DualRankConfig(restoration_rate=1.5)
    with pytest.raises(AdapterConfigError, match="bogus"):
        DualRankConfig.from_dict({"adapter_type": "dual_rank", "bogus": 1})
    cfg = DualRankConfig(rank_high=8, per_token=True)
    assert DualRankConfig.from_dict(cfg.to_dict()) == cfg


def test_save_and_load_round_trip_with_grown_router(tmp_path) -> None:
    model = tiny_llama()
    handle = inject_dual_rank(model, DualRankConfig(target_modules=["q_proj", "v_proj", "up_proj"]))
    handle.add_task()
    handle.add_task()
    randomize_b(model)
    with torch.no_grad():
        for w in handle.router.weights:
            w.normal_()
    x = ids()
    with torch.no_grad():
        expected = model(x).logits.clone()
    save_adapter(model, tmp_path / "adapter")
    fresh = tiny_llama()
    load_adapter(fresh, tmp_path / "adapter")
    assert get_dual_rank(fresh).router.num_tasks == 2
    with torch.no_grad():
        torch.testing.assert_close(fresh(x).logits, expected, atol=1e-6, rtol=0)


def test_layer_index_reads_the_first_number() -> None:
    assert layer_index("model.layers.17.mlp.up_proj") == 17
    assert layer_index("lm_head") == 0
