"""The language-model loss over the trained tokens only, with the vocabulary projection skipped elsewhere.

In agent trajectories most tokens are prompt, profile and tool output (label -100); projecting every position
onto a ~50k vocabulary, then throwing most of it away, is about a third of a small model's step. transformers'
causal LMs take `logits_to_keep` (here a boolean mask), so only the positions whose next token is trained
reach the head. The loss is the same token-level cross entropy HF computes, normalised the same way.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from tooltune.train.data import IGNORE_INDEX


def next_token_mask(labels: torch.Tensor) -> torch.Tensor:
    """(batch, length) booleans: True where the next position's label is trained (the logits the loss reads)."""
    mask = torch.zeros_like(labels, dtype=torch.bool)
    mask[:, :-1] = labels[:, 1:] != IGNORE_INDEX
    return mask


def accepts_logits_to_keep(model: nn.Module) -> bool:
    """Whether the model's forward takes `logits_to_keep` (transformers' causal LMs do)."""
    try:
        return "logits_to_keep" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def trained_token_loss(outputs: Any, labels: torch.Tensor, num_items_in_batch: torch.Tensor | int | None = None
                       ) -> torch.Tensor:
    """Cross entropy of the trained next tokens, as a `Trainer(compute_loss_func=...)`.

    `outputs.logits` is either the full (batch, length, vocab) tensor or the rows kept by `next_token_mask`
    (flattened in row-major order). Summed, then divided by `num_items_in_batch` (the trained tokens of the
    whole accumulated batch) when the Trainer gives it, else by this batch's count."""
    logits = outputs["logits"] if isinstance(outputs, dict) else outputs.logits
    targets = labels[:, 1:]
    trained = targets != IGNORE_INDEX
    if logits.dim() == 3:
        logits = logits[:, :-1][trained]
    targets = targets[trained]
    loss = F.cross_entropy(logits.float(), targets.to(logits.device), reduction="sum")
    count = num_items_in_batch if num_items_in_batch is not None else max(int(targets.numel()), 1)
    if isinstance(count, torch.Tensor):
        count = count.to(loss.device)
    return loss / count
