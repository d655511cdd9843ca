"""A key/value cache that appends in place.

transformers' `DynamicCache` appends each decoded token with `torch.cat`, which copies the whole cache of
every layer at every step: for a batch of 16 conversations of 3000 tokens (SmolLM2, bf16) that copy costs
about as much as the attention itself (`benchmarks/cpu_attention.py`). `GrowingCache` keeps each layer's keys
and values in a buffer with room to spare and writes new tokens into it; the layer's `keys` / `values` are
views of the filled part, so everything that reads a `DynamicCache` reads this one the same way.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache
from transformers.cache_utils import Cache, DynamicLayer

HEADROOM = 256
"""Free positions a buffer gets beyond what it must hold when it (re)grows: one answer's worth of tokens."""


class GrowingLayer(DynamicLayer):
    """A `DynamicLayer` whose keys/values live in a buffer that grows by reallocation only when full."""

    _key_buffer: torch.Tensor | None = None
    _value_buffer: torch.Tensor | None = None

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        length, new = self.get_seq_length(), key_states.shape[-2]
        if not self._fits(key_states, length + new):
            self._grow(key_states, length + new)
        self._key_buffer[..., length:length + new, :] = key_states
        self._value_buffer[..., length:length + new, :] = value_states
        self.keys = self._key_buffer[..., :length + new, :]
        self.values = self._value_buffer[..., :length + new, :]
        return self.keys, self.values

    def _fits(self, key_states: torch.Tensor, needed: int) -> bool:
        """Whether the buffer still backs `keys` (no crop or batch selection replaced them) and has room."""
        buffer = self._key_buffer
        if buffer is None or buffer.shape[:2] != key_states.shape[:2] or buffer.shape[-2] < needed:
            return False
        return self.keys.numel() == 0 or self.keys.data_ptr() == buffer.data_ptr()

    def _grow(self, key_states: torch.Tensor, needed: int) -> None:
        """New buffers holding the current keys/values, with `HEADROOM` + a quarter more positions free."""
        capacity = needed + HEADROOM + needed // 4
        shape = (*key_states.shape[:2], capacity, key_states.shape[-1])
        keys = torch.empty(shape, dtype=key_states.dtype, device=key_states.device)
        values = torch.empty(shape, dtype=key_states.dtype, device=key_states.device)
        length = self.get_seq_length()
        if length:
            keys[..., :length, :] = self.keys
            values[..., :length, :] = self.values
        self._key_buffer, self._value_buffer = keys, values


class GrowingCache(DynamicCache):
    """A `DynamicCache` of `GrowingLayer`s (full-attention models; see `prefix_cache.supports_prefix_cache`)."""

    def __init__(self) -> None:
        Cache.__init__(self, layer_class_to_replicate=GrowingLayer)
