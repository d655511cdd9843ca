"""Decomposed attention weighting (DATA, arXiv 2502.11482, after CODA-Prompt) that turns the hidden state
entering a group of layers into the weights of its dual-rank adapters.

Per layer group *and per adapter* (low, high) there are keys K, attention vectors A and weights W, M rows
(of the hidden size) per task. The query q is the group's input hidden state (mean over the prompt's real
tokens per sequence, or each token's own state), alpha_m = cos(q * A_m, K_m), and the adapter's weight is
sigmoid(sum_m alpha_m * sum_d W_md): W's rows are reduced by their row sum, as the release's einsum does,
while q is pooled by a mean (the release sums over tokens, so its logit grows with length and saturates).
Each task adds M rows of K, A and W, Gaussian, orthogonalised (Gram-Schmidt) against the earlier rows and
normalised, as the release does; earlier rows are frozen. `auxiliary_loss()` is the orthogonality loss
mean((C C^T - I)^2) over the rows of K, A and W, averaged over the three, the adapters and the groups.
No task id is needed at inference.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from tooltune.adapters.layer import AdapterModule

_LAYER_INDEX = re.compile(r"(?:^|\.)(\d+)(?:\.|$)")
COMPONENTS = ("keys", "attention", "weights")


def layer_index(module_name: str) -> int:
    """The first numeric path component of a module name (`model.layers.7.mlp.up_proj` -> 7), else 0."""
    match = _LAYER_INDEX.search(module_name)
    return int(match.group(1)) if match else 0


def layer_module_name(module_name: str) -> str:
    """The decoder layer holding a linear: its name up to the first numeric component (`model.layers.7`)."""
    match = _LAYER_INDEX.search(module_name)
    if match is None:
        raise ValueError(f"{module_name!r} is not inside a numbered decoder layer")
    return module_name[:match.end(1)]


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


def orthogonality(rows: torch.Tensor) -> torch.Tensor:
    """mean((C C^T - I)^2) of each row block C in [..., rows, dim], averaged over the leading axes."""
    eye = torch.eye(rows.shape[-2], device=rows.device, dtype=rows.dtype)
    return ((rows @ rows.transpose(-1, -2) - eye) ** 2).mean(dim=(-1, -2)).mean()


class DecomposedAttention(AdapterModule):
    """K, A and W of shape [groups, adapters, M, dim] per task, grown by `rows_per_task` rows per task."""

    def __init__(self, query_dim: int, num_groups: int, rows_per_task: int = 8, num_outputs: int = 2,
                 orthogonality_weight: float = 1.0, seed: int = 0) -> None:
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

    def _new_rows(self, old: nn.ParameterList) -> torch.Tensor:
        blocks = torch.empty(self.num_groups, self.num_outputs, self.rows_per_task, self.query_dim)
        for g in range(self.num_groups):
            for o in range(self.num_outputs):
                existing = torch.cat([p[g, o].detach().float().cpu() for p in old], 0) if len(old) \
                    else torch.zeros(0, self.query_dim)
                blocks[g, o] = gram_schmidt_extend(existing, self.rows_per_task, self._generator)
        return blocks

    def add_task(self) -> int:
        """Freeze all existing rows and add orthonormal new ones for a new task; returns the new task's index."""
        for p in self.parameters():
            p.requires_grad_(False)
        kw = {"device": self._anchor.device, "dtype": self._anchor.dtype}
        for name in COMPONENTS:
            params = getattr(self, name)
            params.append(nn.Parameter(self._new_rows(params).to(**kw)))
        return self.num_tasks - 1

    def current_task_parameter_names(self, prefix: str = "") -> set[str]:
        """Names of the rows that train in the current task (for a trainer's `trainable` set)."""
        return {f"{prefix}{name}.{self.num_tasks - 1}" for name in COMPONENTS}

    def _stacked(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """K, A, W of every task so far, [groups, adapters, tasks * M, dim] each."""
        if not self.num_tasks:
            raise RuntimeError("DecomposedAttention has no components yet: call add_task() before the first forward")
        return tuple(torch.cat(list(getattr(self, name)), 2) for name in COMPONENTS)  # type: ignore[return-value]

    def forward(self, query: torch.Tensor, group: int) -> torch.Tensor:
        """query [..., dim] entering `group` -> adapter weights in (0, 1), shape [..., adapters]."""
        keys, attention, weights = (t[group] for t in self._stacked())
        with torch.autocast(device_type=query.device.type, enabled=False):  # cosines in the router's precision
            q = query.to(keys.dtype)
            # cos(q * A, K) without materializing q * A for every row: numerator and norms as matmuls.
            numerator = torch.einsum("...d,omd->...om", q, attention * keys)
            query_norm = torch.einsum("...d,omd->...om", q * q, attention * attention).clamp_min(1e-12).sqrt()
            alpha = numerator / (query_norm * keys.norm(dim=-1).clamp_min(1e-12))
            return torch.sigmoid((alpha * weights.sum(-1)).sum(-1))

    def orthogonality_penalty(self) -> torch.Tensor:
        """The orthogonality loss over the active rows of K, A and W, averaged over the three."""
        return sum(orthogonality(c) for c in self._stacked()) / len(COMPONENTS)

    def auxiliary_loss(self) -> torch.Tensor | None:
        """The weighted orthogonality loss, for the trainer to add to the LM loss."""
        if self.orthogonality_weight == 0 or not self.num_tasks:
            return None
        return self.orthogonality_weight * self.orthogonality_penalty()


def _cache_length(kwargs: dict) -> int:
    """Tokens already in the KV cache of a model call (`past_key_values`; newer transformers say `cache`)."""
    cache = kwargs.get("past_key_values")
    cache = kwargs.get("cache") if cache is None else cache
    if cache is None:
        return 0
    if hasattr(cache, "get_seq_length"):
        return int(cache.get_seq_length())
    return 1 if len(cache) else 0


def prompt_mask(mask: Any, labels: Any, shape: torch.Size, device: torch.device) -> torch.Tensor:
    """[batch, seq] True on the real tokens before the first supervised label (all real tokens without labels)."""
    keep = torch.ones(shape, dtype=torch.bool, device=device)
    if isinstance(mask, torch.Tensor) and mask.dim() == 2 and mask.shape == keep.shape:
        keep &= mask.bool()
    if isinstance(labels, torch.Tensor) and labels.shape == keep.shape:
        supervised = labels != -100
        before_answer = supervised.long().cumsum(1) == 0
        keep &= torch.where(supervised.any(1, keepdim=True), before_answer, torch.ones_like(before_answer))
    return keep


class AdapterRouting:
    """Feeds the router's weights to the routed adapter layers on every model call; no task id involved.

    A forward pre-hook on the model records which tokens form the prompt (real tokens before the first
    supervised label, so training and generation see the same query); a pre-hook on the first decoder layer
    of each group turns the hidden state entering it into the group's weights. During cached generation the
    per-sequence weights of the prompt are kept for the new tokens. Layers need `group` and `scales`.
    """

    def __init__(self, model: nn.Module, router: DecomposedAttention, layers: list[tuple[str, nn.Module]],
                 entries: dict[int, nn.Module], per_token: bool = False, config: Any = None) -> None:
        self.model, self.router, self.layers, self.per_token = model, router, layers, per_token
        self.config = config
        self.forced_scales: float | None = None
        self.group_scales: dict[int, torch.Tensor] = {}
        self._keep: torch.Tensor | None = None
        self._decoding = False
        self._hooks = [model.register_forward_pre_hook(self._pre_model, with_kwargs=True)]
        self._hooks += [module.register_forward_pre_hook(self._entry_hook(group), with_kwargs=True)
                        for group, module in sorted(entries.items())]

    @property
    def last_scales(self) -> torch.Tensor | None:
        """Weights of the last call, [batch, groups, adapters] (per token: [batch, seq, groups, adapters])."""
        if len(self.group_scales) < self.router.num_groups:
            return None
        return torch.stack([self.group_scales[g] for g in range(self.router.num_groups)], -2)

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
        for hook in self._hooks:
            hook.remove()

    def _pre_model(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        ids = kwargs.get("input_ids", args[0] if args else None)
        embeds = kwargs.get("inputs_embeds")
        shape = embeds.shape[:2] if embeds is not None else ids.shape if ids is not None else None
        if shape is None:
            raise ValueError("adapter routing needs input_ids or inputs_embeds in the model call")
        device = (embeds if embeds is not None else ids).device
        self._keep = prompt_mask(kwargs.get("attention_mask"), kwargs.get("labels"), shape, device)
        previous = self.group_scales.get(0)
        self._decoding = (not self.per_token and _cache_length(kwargs) > 0 and previous is not None
                          and previous.shape[0] == shape[0])

    def _entry_hook(self, group: int) -> Any:
        def hook(module: nn.Module, args: tuple, kwargs: dict) -> None:
            hidden = args[0] if args else kwargs["hidden_states"]
            self._route(group, hidden.detach())
        return hook

    def _route(self, group: int, hidden: torch.Tensor) -> None:
        """Set the weights of `group`'s layers from the hidden state entering it (the query is not trained
        through: it is the input the keys are matched against, as CODA-Prompt's frozen query)."""
        lead = hidden.shape[:2] if self.per_token else hidden.shape[:1]
        if self.forced_scales is not None:
            scales = hidden.new_full((*lead, self.router.num_outputs), float(self.forced_scales))
        elif self._decoding:
            scales = self.group_scales[group]  # a decoding step: keep the prompt's weights
        elif self.per_token:
            scales = self.router(hidden, group)
        else:
            keep = self._keep if self._keep is not None and self._keep.shape == hidden.shape[:2] \
                else torch.ones(hidden.shape[:2], dtype=torch.bool, device=hidden.device)
            weights = keep.to(hidden.dtype).unsqueeze(-1)
            scales = self.router((hidden * weights).sum(1) / weights.sum(1).clamp_min(1.0), group)
        self.group_scales[group] = scales
        for _, layer in self.layers:
            if layer.group == group:
                layer.scales = scales
