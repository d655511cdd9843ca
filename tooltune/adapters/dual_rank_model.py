"""Putting dual-rank adapters and their decomposed attention router into a causal LM.

`inject_dual_rank` swaps the targeted `nn.Linear` children for `DualRankLinear`, adds the router as the
submodule `dual_rank_router` (so its rows train, save and load with the model), and registers one
forward pre-hook on the model that computes the query from the frozen input embeddings and hands every
adapter its group's (s_low, s_high). During cached generation the per-sequence weights of the prompt are
kept for the new tokens, so training and generation see the same weights.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from tooltune.adapters.decomposed_attention import DecomposedAttention, layer_index
from tooltune.adapters.dual_rank import DualRankConfig, DualRankLinear, StochasticRestoration, dual_rank_modules

ROUTER_NAME = "dual_rank_router"
_HANDLE_ATTRIBUTE = "_tooltune_dual_rank"


def matches_target(module_name: str, targets: list[str]) -> bool:
    """True when the module's full name equals a target or ends with `.target`."""
    return any(module_name == t or module_name.endswith("." + t) for t in targets)


def _cache_argument(kwargs: dict) -> Any:
    """The KV cache of a model call (`past_key_values`, named `cache` by newer transformers)."""
    cache = kwargs.get("past_key_values")
    return kwargs.get("cache") if cache is None else cache


def _cache_length(cache: Any) -> int:
    if cache is None:
        return 0
    if hasattr(cache, "get_seq_length"):
        return int(cache.get_seq_length())
    return 1 if len(cache) else 0


class DualRankAdapter:
    """Handle on a model's dual-rank adapters: task growth, trainable names, restoration, forced weights."""

    def __init__(self, model: nn.Module, config: DualRankConfig, router: DecomposedAttention) -> None:
        self.model, self.config, self.router = model, config, router
        self.modules = dual_rank_modules(model)
        self.forced_scales: float | None = None
        self.last_scales: torch.Tensor | None = None
        self._hook = model.register_forward_pre_hook(self._pre_forward, with_kwargs=True)

    def add_task(self) -> int:
        """Grow the router by one task (earlier rows frozen); returns the task index."""
        return self.router.add_task()

    def trainable_parameter_names(self) -> set[str]:
        """Adapter matrices of every layer plus the current task's router rows."""
        names = {f"{n}.{p}" for n, _ in self.modules for p in ("lora_A_low", "lora_B_low", "lora_A_high", "lora_B_high")}
        return names | self.router.current_task_parameter_names(prefix=f"{ROUTER_NAME}.")

    def adapter_parameters(self) -> list[nn.Parameter]:
        return [p for _, m in self.modules for p in m.adapter_parameters()]

    def restoration(self, seed: int = 0) -> StochasticRestoration:
        return StochasticRestoration(self.adapter_parameters(), self.config.restoration_rate, seed=seed)

    def remove_hook(self) -> None:
        self._hook.remove()

    def _query(self, embeds: torch.Tensor, mask: Any, labels: Any) -> torch.Tensor:
        """Per token: each embedding. Per sequence: the mean embedding of the prompt's real tokens.

        In training the prompt ends before the first supervised label, so the query matches what
        generation sees (the prompt only); padding is excluded through the attention mask.
        """
        if self.config.per_token:
            return embeds
        keep = torch.ones(embeds.shape[:2], dtype=torch.bool, device=embeds.device)
        if isinstance(mask, torch.Tensor) and mask.dim() == 2 and mask.shape == keep.shape:
            keep &= mask.bool()
        if isinstance(labels, torch.Tensor) and labels.shape == keep.shape:
            supervised = labels != -100
            before_answer = supervised.long().cumsum(1) == 0
            has_answer = supervised.any(1, keepdim=True)
            keep &= torch.where(has_answer, before_answer, torch.ones_like(before_answer))
        weights = keep.to(embeds.dtype).unsqueeze(-1)
        return (embeds * weights).sum(1) / weights.sum(1).clamp_min(1.0)

    def _pre_forward(self, module: nn.Module, args: tuple, kwargs: dict) -> None:
        embeds = kwargs.get("inputs_embeds")
        if embeds is None:
            input_ids = kwargs.get("input_ids", args[0] if args else None)
            if input_ids is None:
                raise ValueError("dual-rank routing needs input_ids or inputs_embeds in the model call")
            embeds = self.model.get_input_embeddings()(input_ids)
        embeds = embeds.detach()
        batch = embeds.shape[0]
        lead = embeds.shape[:2] if self.config.per_token else embeds.shape[:1]
        if self.forced_scales is not None:
            scales = embeds.new_full((*lead, self.router.num_groups, 2), float(self.forced_scales))
        elif (
            not self.config.per_token
            and _cache_length(_cache_argument(kwargs)) > 0
            and self.last_scales is not None
            and self.last_scales.shape[0] == batch
        ):
            scales = self.last_scales  # decoding step: keep the prompt's weights
        else:
            scales = self.router(self._query(embeds, kwargs.get("attention_mask"), kwargs.get("labels")))
        self.last_scales = scales
        for _, m in self.modules:
            m.scales = scales[..., m.group, :]


def inject_dual_rank(model: nn.Module, config: DualRankConfig, seed: int = 0) -> DualRankAdapter:
    """Wrap the targeted linears of `model` in place, freeze the backbone and attach the router.

    The router starts with no rows: call `add_task()` on the returned handle before training each task.
    """
    if hasattr(model, _HANDLE_ATTRIBUTE):
        raise ValueError("model already has dual-rank adapters")
    targets = [
        (name, module) for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and matches_target(name, config.target_modules)
    ]
    if not targets:
        raise ValueError(f"target_modules {config.target_modules} match no nn.Linear in the model")
    for p in model.parameters():
        p.requires_grad_(False)
    for name, base in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        group = layer_index(name) // config.layers_per_group
        setattr(parent, child, DualRankLinear(base, config.rank_low, config.rank_high, group=group))
    num_groups = 1 + max(layer_index(n) // config.layers_per_group for n, _ in targets)
    embedding = model.get_input_embeddings()
    router = DecomposedAttention(
        query_dim=embedding.embedding_dim, num_groups=num_groups, rows_per_task=config.rows_per_task,
        orthogonality_weight=config.orthogonality_weight, seed=seed,
    ).to(embedding.weight.device)
    model.add_module(ROUTER_NAME, router)
    handle = DualRankAdapter(model, config, router)
    object.__setattr__(model, _HANDLE_ATTRIBUTE, handle)
    return handle


def get_dual_rank(model: nn.Module) -> DualRankAdapter:
    """The handle created by `inject_dual_rank` for this model."""
    handle = getattr(model, _HANDLE_ATTRIBUTE, None)
    if handle is None:
        raise ValueError("model has no dual-rank adapters: call inject_dual_rank first")
    return handle
