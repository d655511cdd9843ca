"""Attention for batched generation on CPU: grouped key/value heads as they are, and additive masks.

transformers' SDPA path is tuned for CUDA: with a padding mask (any left-padded batch) it repeats each
key/value head for every query head of its group before a prefill (`repeat_kv`), and it hands PyTorch a
boolean mask. On CPU both cost: PyTorch's kernel reads grouped heads directly (`enable_gqa`, bit-identical
results), and it is faster with an additive float mask than with a boolean one. Measured here, one SmolLM2-shaped
layer (9 query heads, 3 key/value heads), bf16, 16 rows, one run of `benchmarks/cpu_attention.py`:

| step | transformers' sdpa | this |
|---|---|---|
| prefill, 300 new tokens over 3000 | 219.5 ms (repeated heads, bool mask) | 98.1 ms (grouped heads, float mask) |
| decode, 1 token over 3000 | 5.9 ms (packed heads, bool mask) | 3.5 ms (packed heads, float mask) |

`cpu_attention(model)` switches a model on CPU to this implementation for the duration of a block (its
`config._attn_implementation`, restored after); on GPUs, and for models not on "sdpa", nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

ATTENTION_NAME = "tooltune_cpu_sdpa"


def grouped_sdpa_attention(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                           attention_mask: torch.Tensor | None, dropout: float = 0.0, scaling: float | None = None,
                           is_causal: bool | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature: query (batch, heads, q, dim), key/value (batch, kv heads,
    kv, dim), an additive mask or None; returns (batch, q, heads, dim) and no weights."""
    batch, heads, q_length, dim = query.shape
    groups = heads // key.shape[1]
    dropout = dropout if module.training else 0.0
    if q_length == 1 and groups > 1:  # one token: the group's query heads become query rows of their kv head
        packed = query.reshape(batch, key.shape[1], groups, dim)
        out = torch.nn.functional.scaled_dot_product_attention(packed, key, value, attn_mask=attention_mask,
                                                               dropout_p=dropout, scale=scaling)
        out = out.reshape(batch, heads, 1, dim)
    else:
        causal = attention_mask is None and q_length > 1 and (is_causal if is_causal is not None
                                                               else getattr(module, "is_causal", True))
        if causal and key.shape[2] > q_length:
            raise ValueError("a causal prefill over cached keys needs a mask")  # sdpa aligns is_causal top-left
        out = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask,
                                                               dropout_p=dropout, scale=scaling, is_causal=causal,
                                                               enable_gqa=groups > 1)
    return out.transpose(1, 2).contiguous(), None


def additive_mask(*args: Any, dtype: torch.dtype = torch.float32, **kwargs: Any) -> torch.Tensor | None:
    """transformers' SDPA mask (None where causality alone suffices), as 0 / dtype-min instead of True / False."""
    from transformers.masking_utils import sdpa_mask

    mask = sdpa_mask(*args, **kwargs)
    if mask is None or mask.dtype != torch.bool:
        return mask
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill_(~mask, torch.finfo(dtype).min)


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(ATTENTION_NAME, grouped_sdpa_attention)
    AttentionMaskInterface.register(ATTENTION_NAME, additive_mask)


@contextmanager
def cpu_attention(model: Any) -> Iterator[None]:
    """Within the block, a CPU model on transformers' "sdpa" attention uses `grouped_sdpa_attention` with
    additive masks; the model's own setting is restored after. Other models are left as they are."""
    config = getattr(model, "config", None)
    device = getattr(model, "device", None)
    if config is None or getattr(config, "_attn_implementation", None) != "sdpa" or getattr(device, "type", "") != "cpu":
        yield
        return
    _register()
    config._attn_implementation = ATTENTION_NAME
    try:
        yield
    finally:
        config._attn_implementation = "sdpa"
