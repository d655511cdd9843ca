"""Decomposed attention weighting (CODA-Prompt style) that turns the input into dual-rank adapter weights.

Per group of layers there are learnable keys K, attention vectors A and output weights W, M rows per task.
A query q from the input (mean of the frozen token embeddings per sequence, or each token's embedding)
gives alpha_r = cos(q * A_r, K_r); the group's weights are sigmoid(sum_r alpha_r W_r) = (s_low, s_high).
Each task adds M rows: earlier rows are frozen (separate parameters per task), new K and A rows start
orthonormal to the old ones (Gram-Schmidt), W rows start at zero so growth leaves the model unchanged,
and `auxiliary_loss()` adds the orthogonality penalty ||R R^T - I||^2 on K and A. No task id is needed.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from tooltune.adapters.layer import AdapterModule

_LAYER_INDEX = re.compile(r"(?:^|\.)(\d+)(?:\.|$)")


def layer_index(module_name: str) -> int:
    """The first numeric path component of a module name (`model.layers.7.mlp.up_proj` -> 7), else 0."""
    match = _LAYER_INDEX.search(module_name)
    return int(match.group(1)) if match else 0


def gram_schmidt_extend(existing: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """`count` random unit rows orthogonal to each other and to the span of the `existing` rows."""
    dim = existing.shape[-1]
    if existing.shape[0] + count > dim:
        raise ValueError(
            f"cannot add {count} orthogonal rows to {existing.shape[0]} existing ones in dimension {dim}: "
            "lower rows_per_task or the number of tasks"
        )
    basis: list[torch.Tensor] = []
    for row in existing.double():
        for b in basis:
            row = row - (row @ b) * b
        if row.norm() > 1e-8:
            basis.append(row / row.norm())
    new: list[torch.Tensor] = []
    while len(new) < count:
        v = torch.randn(dim, generator=generator, dtype=torch.float64)
        for _ in range(2):  # re-orthogonalize once for numerical safety
            for b in basis:
                v = v - (v @ b) * b
        if v.norm() < 1e-6:
            continue
        v = v / v.norm()
        basis.append(v)
        new.append(v)
    return torch.stack(new).to(existing.dtype)


class DecomposedAttention(AdapterModule):
    """Keys, attention vectors and weights per layer group, grown by `rows_per_task` rows per task."""

    def __init__(
        self,
        query_dim: int,
        num_groups: int,
        rows_per_task: int = 8,
        num_outputs: int = 2,
        orthogonality_weight: float = 1.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if query_dim < 1 or num_groups < 1 or rows_per_task < 1 or num_outputs < 1:
            raise ValueError("query_dim, num_groups, rows_per_task and num_outputs must be positive")
        self.query_dim, self.num_groups = query_dim, num_groups
        self.rows_per_task, self.num_outputs = rows_per_task, num_outputs
        self.orthogonality_weight = orthogonality_weight
        self.keys = nn.ParameterList()
        self.attention = nn.ParameterList()
        self.weights = nn.ParameterList()
        self._generator = torch.Generator().manual_seed(seed)
        self.register_buffer("_anchor", torch.zeros(0), persistent=False)  # tracks the device for new rows

    @property
    def num_tasks(self) -> int:
        return len(self.keys)

    def _new_rows(self, old: list[torch.Tensor]) -> torch.Tensor:
        groups = []
        for g in range(self.num_groups):
            existing = torch.cat([p[g].detach().float().cpu() for p in old], 0) if old else torch.zeros(0, self.query_dim)
            groups.append(gram_schmidt_extend(existing, self.rows_per_task, self._generator))
        return torch.stack(groups)

    def add_task(self) -> int:
        """Freeze all existing rows and add fresh ones for a new task; returns the new task's index."""
        for p in self.parameters():
            p.requires_grad_(False)
        kw = {"device": self._anchor.device, "dtype": self._anchor.dtype}
        self.keys.append(nn.Parameter(self._new_rows(list(self.keys)).to(**kw)))
        self.attention.append(nn.Parameter(self._new_rows(list(self.attention)).to(**kw)))
        self.weights.append(nn.Parameter(torch.zeros(self.num_groups, self.rows_per_task, self.num_outputs, **kw)))
        return self.num_tasks - 1

    def current_task_parameter_names(self, prefix: str = "") -> set[str]:
        """Names of the rows that train in the current task (for a trainer's `trainable` set)."""
        last = self.num_tasks - 1
        return {f"{prefix}{name}.{last}" for name in ("keys", "attention", "weights")}

    def _stacked(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if not self.num_tasks:
            raise RuntimeError("DecomposedAttention has no components yet: call add_task() before the first forward")
        return torch.cat(list(self.keys), 1), torch.cat(list(self.attention), 1), torch.cat(list(self.weights), 1)

    def forward(self, query: torch.Tensor) -> torch.Tensor:
        """query [..., query_dim] -> adapter weights in (0, 1) of shape [..., num_groups, num_outputs]."""
        keys, attention, weights = self._stacked()
        q = query.to(keys.dtype)
        # cos(q * A, K) without materializing q * A for every row: numerator and norms as matmuls.
        numerator = torch.einsum("...d,grd->...gr", q, attention * keys)
        query_norm = torch.einsum("...d,grd->...gr", q * q, attention * attention).clamp_min(1e-12).sqrt()
        alpha = numerator / (query_norm * keys.norm(dim=-1).clamp_min(1e-12))
        return torch.sigmoid(torch.einsum("...gr,gro->...go", alpha, weights))

    def orthogonality_penalty(self) -> torch.Tensor:
        """Mean of (R R^T - I)^2 over the K and A rows of each group (CODA-Prompt's ortho penalty)."""
        keys, attention, _ = self._stacked()
        eye = torch.eye(keys.shape[1], device=keys.device, dtype=keys.dtype)
        return sum(((m @ m.transpose(1, 2) - eye) ** 2).mean() for m in (keys, attention))

    def auxiliary_loss(self) -> torch.Tensor | None:
        """The weighted orthogonality loss, for the trainer to add to the LM loss."""
        if self.orthogonality_weight == 0 or not self.num_tasks:
            return None
        return self.orthogonality_weight * self.orthogonality_penalty()


def _cache_argument(kwargs: dict) -> Any:
    """The KV cache of a model call (`past_key_values`; newer transformers name it `cache`)."""
    cache = kwargs.get("past_key_values")
    return kwargs.get("cache") if cache is None else cache


def _cache_length(cache: Any) -> int:
    if cache is None:
        return 0
    if hasattr(cache, "get_seq_length"):
        return int(cache.get_seq_length())
    return 1 if len(cache) else 0


class AdapterRouting:
    """Feeds a router's weights to routed adapter layers on every model call; no task id involved.

    One forward pre-hook on the model computes the query from the frozen input embeddings and sets each
    layer's `scales` to its group's slice. During cached generation the per-sequence weights of the prompt
    are kept for the new tokens; in training the prompt is the part before the first supervised label, so
    both see the same query. Layers need only `group` and `scales` attributes.
    """

    def __init__(self, model: nn.Module, router: DecomposedAttention, layers: list[tuple[str, nn.Module]],
                 per_token: bool = False, config: Any = None) -> None:
        self.model, self.router, self.layers, self.per_token = model, router, layers, per_token
        self.config = config
        self.forced_scales: float | None = None
        self.last_scales: torch.Tensor | None = None
        self._hook = model.register_forward_pre_hook(self._pre_forward, with_kwargs=True)

    def add_task(self) -> int:
        """Grow the router by one task (earlier rows frozen); returns the new task's index."""
        index = self.router.add_task()
        if self.config is not None and hasattr(self.config, "num_tasks"):
            self.config.num_tasks = self.router.num_tasks  # saved with the adapter, rebuilt on load
        return index

    def router_prefix(self) -> str:
        for name, module in self.model.named_modules():
            if module is self.router:
                return name + "."
        raise RuntimeError("the router is not a submodule of the model")

    def trainable_parameter_names(self) -> set[str]:
        """Every routed layer's adapter matrices plus the current task's router rows."""
        names = {f"{n}.{p}" for n, layer in self.layers for p, _ in layer.named_parameters() if not p.startswith("base.")}
        return names | self.router.current_task_parameter_names(prefix=self.router_prefix())

    def remove(self) -> None:
        self._hook.remove()

    def _query(self, embeds: torch.Tensor, mask: Any, labels: Any) -> torch.Tensor:
        """Per token: each embedding. Per sequence: the mean embedding of the prompt's real tokens."""
        if self.per_token:
            return embeds
        keep = torch.ones(embeds.shape[:2], dtype=torch.bool, device=embeds.device)
        if isinstance(mask, torch.Tensor) and mask.dim() == 2 and mask.shape == keep.shape:
            keep &= mask.bool()
        if isinstance(labels, torch.Tensor) and labels.shape == keep.shape:
            supervised = labels != -100
            before_answer = supervised.long().cumsum(1) == 0
            keep &= torch.where(supervised.any(1, keepdim=True), before_answer, torch.ones_like(before_answer))
        weights = keep.to(embeds.dtype).unsqueeze(-1)
        return (embeds * weights).sum(1) / weights.sum(1).clamp_min(1.0)

    def _pre_forward(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        embeds = kwargs.get("inputs_embeds")
        if embeds is None:
            input_ids = kwargs.get("input_ids", args[0] if args else None)
            if input_ids is None:
                raise ValueError("adapter routing needs input_ids or inputs_embeds in the model call")
            embeds = self.model.get_input_embeddings()(input_ids)
        embeds = embeds.detach()
        lead = embeds.shape[:2] if self.per_token else embeds.shape[:1]
        if self.forced_scales is not None:
            scales = embeds.new_full((*lead, self.router.num_groups, self.router.num_outputs), float(self.forced_scales))
        elif (not self.per_token and _cache_length(_cache_argument(kwargs)) > 0
              and self.last_scales is not None and self.last_scales.shape[0] == embeds.shape[0]):
            scales = self.last_scales  # a decoding step: keep the prompt's weights
        else:
            scales = self.router(self._query(embeds, kwargs.get("attention_mask"), kwargs.get("labels")))
        self.last_scales = scales
        for _, layer in self.layers:
            layer.scales = scales[..., layer.group, :]
