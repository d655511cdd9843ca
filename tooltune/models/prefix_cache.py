"""Reuse of the key/value cache of prompt prefixes across `chat_batch` calls (automatic prefix caching).

An agent's every turn re-sends the whole conversation: the system prompt, the tools, every earlier call
and result. Each finished row's keys and values are kept, indexed by its token ids; the next prompt that
starts with the same tokens (the next turn of that episode, or another episode of the same user and tools)
gets them back and only its new tokens are computed. Keys are stored per token at their true position
(positions come from the attention mask), so they can be laid out again under any left padding.

Only full-attention caches are handled (no sliding windows, no recurrent state).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


@dataclass
class CachedPrefix:
    """The keys and values of one token sequence: per layer, [heads, tokens, head_dim]."""

    ids: torch.Tensor
    keys: list[torch.Tensor]
    values: list[torch.Tensor]


def common_prefix_length(a: torch.Tensor, b: torch.Tensor) -> int:
    """Number of leading positions where two 1-d id tensors agree."""
    n = min(len(a), len(b))
    if n == 0:
        return 0
    differ = (a[:n] != b[:n]).nonzero()
    return int(differ[0]) if len(differ) else n


class PrefixCache:
    """An LRU store of cached prefixes, bounded by the total number of tokens it holds."""

    def __init__(self, max_tokens: int = 120_000, min_reuse: int = 16) -> None:
        self.max_tokens = max_tokens
        self.min_reuse = min_reuse
        self._entries: OrderedDict[int, CachedPrefix] = OrderedDict()
        self._next_key = 0
        self.tokens = 0
        self.reused_tokens = 0  # prompt tokens whose computation was skipped (for the benchmarks)
        self.computed_tokens = 0

    def lookup(self, ids: torch.Tensor) -> tuple[CachedPrefix | None, int]:
        """The entry sharing the longest prefix with `ids` (at most len(ids) - 1 tokens: one must be computed)."""
        best, best_length = None, 0
        for key, entry in self._entries.items():
            length = min(common_prefix_length(entry.ids, ids), len(ids) - 1)
            if length > best_length:
                best, best_length, best_key = entry, length, key
        if best is None or best_length < self.min_reuse:
            return None, 0
        self._entries.move_to_end(best_key)
        return best, best_length

    def store(self, ids: torch.Tensor, keys: list[torch.Tensor], values: list[torch.Tensor]) -> None:
        """Keep a sequence's keys/values; entries it extends are dropped (it covers them)."""
        for key in [k for k, e in self._entries.items() if len(e.ids) <= len(ids)
                    and common_prefix_length(e.ids, ids) == len(e.ids)]:
            self.tokens -= len(self._entries.pop(key).ids)
        self._entries[self._next_key] = CachedPrefix(ids.clone(), keys, values)
        self._next_key += 1
        self.tokens += len(ids)
        while self.tokens > self.max_tokens and len(self._entries) > 1:
            self.tokens -= len(self._entries.popitem(last=False)[1].ids)

    def clear(self) -> None:
        self._entries.clear()
        self.tokens = 0


def supports_prefix_cache(model: Any) -> bool:
    """Full attention in every layer: no sliding window, no recurrent or linear-attention layers."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "sliding_window", None) not in (None, 0):
        return False
    layer_types = getattr(config, "layer_types", None)
    return not layer_types or all(t == "full_attention" for t in layer_types)


def build_batch_cache(rows: list[tuple[CachedPrefix | None, int]], pads: list[int], width: int,
                      like: CachedPrefix) -> tuple[Any, int]:
    """A GrowingCache covering the first `length` columns of a left-padded batch, and that length.

    Row i has `pads[i]` padding columns and may reuse `rows[i][1]` cached tokens; the shared cached width is
    the smallest `pad + reused` over the rows (the row with the most new tokens decides). Padding columns hold
    zeros (the attention mask hides them)."""
    import torch

    from tooltune.models.kv_cache import GrowingCache

    length = min(pad + reused for (_, reused), pad in zip(rows, pads))
    length = min(length, width - 1)
    if length <= 0:
        return None, 0
    cache = GrowingCache()
    for layer in range(len(like.keys)):
        heads, _, dim = like.keys[layer].shape
        shape = (len(rows), heads, length, dim)
        keys = torch.zeros(shape, dtype=like.keys[layer].dtype, device=like.keys[layer].device)
        values = torch.zeros_like(keys)
        for row, ((entry, _), pad) in enumerate(zip(rows, pads)):
            real = length - pad
            if entry is not None and real > 0:
                keys[row, :, pad:length] = entry.keys[layer][:, :real]
                values[row, :, pad:length] = entry.values[layer][:, :real]
        cache.update(keys, values, layer)
    return cache, length


def row_prefix(cache: Any, row: int, start: int, end: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """One row's keys/values over columns [start, end) of a batch cache, per layer (copies)."""
    keys = [layer.keys[row, :, start:end].clone() for layer in cache.layers]
    values = [layer.values[row, :, start:end].clone() for layer in cache.layers]
    return keys, values
