"""Attention for batched generation on CPU: same logits and answers as transformers' sdpa, scoped switch."""

from __future__ import annotations

import pytest
import torch

from tooltune.models.attention import ATTENTION_NAME, cpu_attention
from tooltune.models.hf_local import HFChatModel
from tooltune.models.types import ChatRequest, GenerationConfig

from .conftest import make_model, make_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer()


@pytest.mark.parametrize("family", ["llama", "qwen2"])
def test_left_padded_logits_match_transformers_sdpa(tokenizer, family) -> None:
    model = make_model(family, len(tokenizer))  # 4 query heads, 2 key/value heads
    assert model.config._attn_implementation == "sdpa"
    batch = tokenizer(["hi", "a much longer question here"], return_tensors="pt", padding=True, padding_side="left")
    with torch.no_grad():
        reference = model(**batch).logits
        with cpu_attention(model):
            assert model.config._attn_implementation == ATTENTION_NAME
            ours = model(**batch).logits
    assert model.config._attn_implementation == "sdpa"  # restored
    real = batch["attention_mask"].bool()
    assert torch.allclose(ours[real], reference[real], atol=1e-5, rtol=1e-4)


def test_generation_answers_the_same_and_reads_grouped_heads(tokenizer, monkeypatch) -> None:
    chat = HFChatModel(make_model("llama", len(tokenizer)), tokenizer, name="tiny")
    requests = [ChatRequest([{"role": "user", "content": text}]) for text in ("hi", "a much longer question here")]
    config = GenerationConfig(max_new_tokens=8, temperature=0.0, seed=0)
    seen: list[tuple[int, torch.dtype | None]] = []
    sdpa = torch.nn.functional.scaled_dot_product_attention

    def spy(query, key, value, *args, **kwargs):
        mask = kwargs.get("attn_mask")
        seen.append((key.shape[1], None if mask is None else mask.dtype))
        return sdpa(query, key, value, *args, **kwargs)

    ours = [a.raw_text for a in chat.chat_batch(requests, config)]
    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
    ours_again = [a.raw_text for a in chat.chat_batch(requests, config)]
    assert seen and all(heads == 2 and mask_dtype != torch.bool for heads, mask_dtype in seen)  # no copies, additive
    with torch.no_grad():  # transformers' own generation, no switch
        batch = tokenizer([chat.render_prompt(r.messages, None, None) for r in requests], return_tensors="pt",
                          padding=True, padding_side="left", add_special_tokens=False)
        out = chat.model.generate(**batch, max_new_tokens=8, do_sample=False, pad_token_id=3)
    reference = [tokenizer.decode(row[batch["input_ids"].shape[1]:], skip_special_tokens=True) for row in out]
    assert ours == ours_again
    assert [text.strip() for text in ours] == [text.split("<|im_end|>")[0].strip() for text in reference]


def test_gpu_models_and_other_attention_are_left_alone(tokenizer) -> None:
    model = make_model("llama", len(tokenizer))
    model.config._attn_implementation = "eager"
    with cpu_attention(model):
        assert model.config._attn_implementation == "eager"


def test_growing_cache_appends_in_place_and_matches_dynamic_cache(tokenizer) -> None:
    from transformers import DynamicCache

    from tooltune.models.kv_cache import GrowingCache

    model = make_model("llama", len(tokenizer))
    batch = tokenizer(["hi", "a much longer question here"], return_tensors="pt", padding=True, padding_side="left")
    outputs = {}
    for name, cache in (("dynamic", DynamicCache()), ("growing", GrowingCache())):
        with torch.no_grad():
            out = model.generate(**batch, max_new_tokens=12, do_sample=False, pad_token_id=3, cache=cache,
                                 return_dict_in_generate=True, output_scores=True)
        outputs[name] = out
    assert torch.equal(outputs["dynamic"].sequences, outputs["growing"].sequences)
    for a, b in zip(outputs["dynamic"].scores, outputs["growing"].scores):
        assert torch.allclose(a, b, atol=1e-5)
    layer = outputs["growing"].past_key_values.layers[0]
    assert layer.keys.data_ptr() == layer._key_buffer.data_ptr()  # a view of the buffer, not a copy
    assert layer._key_buffer.shape[-2] > layer.keys.shape[-2]  # room left: the next token is written in place
    before = layer._key_buffer.data_ptr()
    layer.update(torch.ones(2, 2, 1, 16), torch.ones(2, 2, 1, 16))
    assert layer._key_buffer.data_ptr() == before and torch.equal(layer.keys[..., -1, :], torch.ones(2, 2, 16))
    layer.batch_select_indices(torch.tensor([1]))  # replaced keys: the next update regrows from them
    grown = layer.update(torch.zeros(1, 2, 1, 16), torch.zeros(1, 2, 1, 16))[0]
    assert grown.shape[0] == 1 and torch.equal(grown[0, :, -2], torch.ones(2, 16))
