"""Prefix caching: a later prompt that extends an earlier one reuses its keys/values and answers exactly as
without the cache (greedy, float32), in batches with different left padding."""

from __future__ import annotations

import torch

from tooltune.models.hf_local import HFChatModel
from tooltune.models.prefix_cache import PrefixCache, common_prefix_length
from tooltune.models.types import ChatRequest, GenerationConfig

SYSTEM = {"role": "system", "content": "You are a helpful assistant for the user, who likes jazz and tea."}


def conversations() -> list[list[dict]]:
    return [[SYSTEM, {"role": "user", "content": "Play some music."}],
            [SYSTEM, {"role": "user", "content": "What is the weather in Paris today, and tomorrow?"}],
            [{"role": "user", "content": "hi"}]]


def test_common_prefix_and_lru_bounds() -> None:
    a, b = torch.tensor([1, 2, 3, 4]), torch.tensor([1, 2, 9])
    assert common_prefix_length(a, b) == 2 and common_prefix_length(a, a) == 4
    cache = PrefixCache(max_tokens=10, min_reuse=1)
    empty = [torch.zeros(1, 4, 2)]
    cache.store(torch.tensor([1, 2, 3, 4]), empty, empty)
    cache.store(torch.tensor([1, 2, 3, 4, 5, 6]), empty, empty)  # extends the first: replaces it
    assert cache.tokens == 6
    entry, length = cache.lookup(torch.tensor([1, 2, 3, 4, 5, 6]))
    assert length == 5  # one token is always left to compute
    cache.store(torch.tensor([7, 8, 9, 10, 11]), empty, empty)  # over the bound: the oldest goes
    assert cache.tokens == 5 and cache.lookup(torch.tensor([1, 2, 3]))[1] == 0


def test_cached_turns_answer_exactly_like_uncached_ones(llama_model, plain_tokenizer) -> None:
    config = GenerationConfig(max_new_tokens=12)
    cached = HFChatModel(llama_model, plain_tokenizer, prefix_cache=True)
    fresh = HFChatModel(llama_model, plain_tokenizer)
    histories = conversations()
    for _turn in range(3):
        requests = [ChatRequest(list(h)) for h in histories]
        with_cache = cached.chat_batch(requests, config)
        without = fresh.chat_batch(requests, config)
        assert [a.raw_text for a in with_cache] == [a.raw_text for a in without]
        for history, answer in zip(histories, with_cache):
            history += [{"role": "assistant", "content": answer.content or ""},
                        {"role": "user", "content": "And then?"}]
    assert cached.prefix_cache.reused_tokens > cached.prefix_cache.computed_tokens  # later turns mostly reused



def test_first_call_keeps_generates_own_cache(llama_model, plain_tokenizer, monkeypatch) -> None:
    """With nothing to reuse, generate must not get cache=None (that switches its own cache off: quadratic): it
    gets an empty cache that appends in place."""
    seen: list[dict] = []
    original = llama_model.generate

    def spy(*args, **kwargs):
        seen.append(dict(kwargs))
        return original(*args, **kwargs)

    monkeypatch.setattr(llama_model, "generate", spy)
    model = HFChatModel(llama_model, plain_tokenizer, prefix_cache=True)
    model.chat_batch([ChatRequest(c) for c in conversations()], GenerationConfig(max_new_tokens=4))
    from tooltune.models.kv_cache import GrowingCache

    assert isinstance(seen[0].get("cache"), GrowingCache) and "past_key_values" not in seen[0]
