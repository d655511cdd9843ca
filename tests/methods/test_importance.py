"""Component importance: a module made to matter ranks first; JSON round trip; heat map."""

from __future__ import annotations

import pytest
import torch

from tests.train.tiny import tiny_llama, tiny_tokenizer
from tooltune.train.data import PaddingCollator, encode_examples
from tooltune.methods.citi.importance import (
    ImportanceScores,
    average_normalised,
    component_names,
    compute_importance,
    heatmap_svg,
    load_importance,
    save_importance,
)

EXAMPLES = [{"messages": [{"role": "user", "content": f"weather in {c}"},
                          {"role": "assistant", "content": f"the weather in {c} is ok"}]}
            for c in ("paris", "berlin", "rome", "paris")]


def test_components_are_the_per_layer_linears() -> None:
    names = component_names(tiny_llama())
    assert len(names) == 2 * 7
    assert "model.layers.1.mlp.down_proj" in names and "lm_head" not in names


@pytest.mark.parametrize("layer", [0, 1])
def test_the_only_block_that_matters_ranks_first(layer: int) -> None:
    """Zero every residual writer (o_proj, down_proj) except one layer's down_proj: that MLP is then the only
    part of the stack the loss depends on, so its three linears must rank first and all others score 0.
    (|theta * grad| is invariant to rescaling within a block, so a single linear cannot be singled out.)"""
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok))
    keep = f"model.layers.{layer}.mlp.down_proj"
    with torch.no_grad():
        for name in component_names(model):
            if name.endswith(("o_proj", "down_proj")) and name != keep:
                model.get_submodule(name).weight.zero_()
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    scores = compute_importance(model, tok, EXAMPLES, "tool", batch_size=2)
    block = {f"model.layers.{layer}.mlp.{k}" for k in ("gate_proj", "up_proj", "down_proj")}
    assert set(scores.ranked()[:3]) == block
    assert all(scores.scores[n] > 0 for n in block)
    assert all(scores.scores[n] == 0.0 for n in scores.scores if n not in block)
    assert scores.batches == 2 and set(scores.scores) == set(component_names(model))
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert all(p.grad is None for p in model.parameters())


def test_amplified_module_rises_in_the_ranking() -> None:
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok))
    target = "model.layers.0.self_attn.v_proj"
    before = compute_importance(model, tok, EXAMPLES, "tool", batch_size=4)
    with torch.no_grad():
        model.get_submodule(target).weight.mul_(30.0)
    after = compute_importance(model, tok, EXAMPLES, "tool", batch_size=4)
    assert after.ranked().index(target) < before.ranked().index(target)
    assert after.ranked().index(target) <= 1  # only its partner o_proj can share the amplification


def test_mean_aggregate_removes_size(tmp_path) -> None:
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok))
    total = compute_importance(model, tok, EXAMPLES, "tool", batch_size=4, aggregate="sum")
    mean = compute_importance(model, tok, EXAMPLES, "tool", batch_size=4, aggregate="mean")
    name = "model.layers.0.mlp.up_proj"
    assert mean.scores[name] == pytest.approx(total.scores[name] / model.get_submodule(name).weight.numel())


def test_the_papers_score_is_the_absolute_dot_product_with_the_whole_datas_gradient() -> None:
    """|theta^T dL/dtheta| over all batches: signs cancel across batches and elements, so it is at most the
    per-batch sum of |theta * grad|, and it equals |theta . (mean gradient)| computed in one go."""
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok))
    dot = compute_importance(model, tok, EXAMPLES, "tool", batch_size=2)
    total = compute_importance(model, tok, EXAMPLES, "tool", batch_size=2, aggregate="sum")
    assert dot.aggregate == "dot" and dot.batches == 2
    assert all(dot.scores[n] <= total.scores[n] * (1 + 1e-6) for n in dot.scores)
    assert any(dot.scores[n] < 0.9 * total.scores[n] for n in dot.scores)
    name = "model.layers.1.mlp.down_proj"
    weight = model.get_submodule(name).weight
    grads = []
    for start in (0, 2):
        model.zero_grad()
        batch = PaddingCollator(tok.pad_token_id)(encode_examples(tok, EXAMPLES[start:start + 2], 512))
        model(**batch).loss.backward()
        grads.append(weight.grad.clone())
    model.zero_grad(set_to_none=True)
    expected = abs(float((weight.detach() * (grads[0] + grads[1]) / 2).sum()))
    assert dot.scores[name] == pytest.approx(expected, rel=1e-4)


def test_abilities_are_normalised_before_they_are_averaged() -> None:
    big = ImportanceScores("text", {"a": 100.0, "b": 300.0})
    small = ImportanceScores("tasks", {"a": 3.0, "b": 1.0})
    general = average_normalised([big, small], "general")
    assert general.ability == "general"
    assert general.scores == pytest.approx({"a": (0.25 + 0.75) / 2, "b": (0.75 + 0.25) / 2})
    assert general.meta["abilities"] == ["text", "tasks"]


def test_json_round_trip_and_heatmap(tmp_path) -> None:
    scores = ImportanceScores("tool", {f"model.layers.{i}.mlp.{k}": float(i + j)
                                       for i in range(3) for j, k in enumerate(["up_proj", "down_proj"])})
    path = save_importance([scores, ImportanceScores("general", {"model.layers.0.mlp.up_proj": 1.0})],
                           tmp_path / "imp.json")
    loaded = load_importance(path)
    assert loaded["tool"].scores == scores.scores and set(loaded) == {"tool", "general"}
    layers, kinds, cells = scores.grid()
    assert layers == [0, 1, 2] and kinds == ["up_proj", "down_proj"] and cells[(2, "down_proj")] == 3.0
    svg = heatmap_svg(scores)
    assert svg.startswith("<svg") and svg.count("<rect") == 6 and "layer 2 down_proj: 3" in svg
    with pytest.raises(ValueError, match="abilities"):
        (tmp_path / "bad.json").write_text("{}")
        load_importance(tmp_path / "bad.json")
