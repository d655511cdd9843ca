"""What every adapter module has in common: it owns trainable tensors that `save_adapter` writes.

`AdapterModule` marks modules whose parameters belong to the adapter (shared routers, keys, ...);
`AdapterLayer` additionally wraps one frozen base linear at `self.base`, whose parameters stay the base
model's. Modules that add a loss implement `auxiliary_loss()` (see `train.trainer`).
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn


class AdapterModule(nn.Module):
    """A module whose own parameters (not those under `.base`) are adapter parameters."""

    def adapter_named_parameters(self) -> Iterator[tuple[str, nn.Parameter]]:
        for name, param in self.named_parameters():
            if not name.startswith("base."):
                yield name, param

    def auxiliary_loss(self) -> torch.Tensor | None:
        """Weighted extra loss of the last forward pass, or None."""
        return None


class AdapterLayer(AdapterModule):
    """Wraps a base `nn.Linear` (kept as `self.base`) and adds a learned update to its output."""

    def __init__(self, base: nn.Linear) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"adapter layers wrap nn.Linear modules, got {type(base).__name__}")
        self.base = base

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    @property
    def weight(self) -> nn.Parameter:
        """The base weight, so code that inspects `layer.weight` (dtype, device) keeps working."""
        return self.base.weight

    def delta(self, x: torch.Tensor) -> torch.Tensor:
        """The adapter's additive update for input `x` (same leading shape, out_features last)."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base(x)
        return out + self.delta(x).to(out.dtype)
