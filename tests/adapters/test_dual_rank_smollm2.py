"""Dual-rank adapters on the real embedded SmolLM2: identity at weight 0, and generation through the router."""

from __future__ import annotations

import pytest
import torch

from tooltune.adapters import inject_adapters
from tooltune.adapters.dual_rank import DualRankConfig, get_dual_rank


@pytest.mark.slow
def test_smollm2_forced_zero_is_base_and_generation_runs() -> None:
    from tooltune.models.hf_local import HFChatModel
    from tooltune.models.registry import load_model
    from tooltune.models.types import GenerationConfig

    backend = load_model("smollm2")
    model, tokenizer = backend.model, backend.tokenizer
    ids = tokenizer("The weather in Paris is", return_tensors="pt")["input_ids"]
    with torch.no_grad():
        base = model(input_ids=ids).logits.clone()
    targets = [f"model.layers.{i}.{part}" for i in (28, 29) for part in ("self_attn.q_proj", "mlp.down_proj")]
    inject_adapters(model, DualRankConfig(target_modules=targets, layers_per_group=1))  # one group per layer
    routing = get_dual_rank(model)
    routing.add_task()
    assert routing.router.num_groups == 2
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
        adapted = model(input_ids=ids).logits.clone()
        routing.forced_scales = 0.0
        forced = model(input_ids=ids).logits
    routing.forced_scales = None
    assert not torch.allclose(adapted, base, atol=1e-3)
    torch.testing.assert_close(forced, base, atol=1e-4, rtol=0)
    answer = HFChatModel(model, tokenizer, name="dual").chat(
        [{"role": "user", "content": "Say hi."}], config=GenerationConfig(max_new_tokens=5, temperature=0.0))
    assert isinstance(answer.raw_text, str)
    assert routing.last_scales is not None and routing.last_scales.shape == (1, 2, 2)
