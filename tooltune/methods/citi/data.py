"""CITI's general data and its labels: what is mixed into the tool data so that the router has general input
to separate from tool input, and the per-sample label (tool or general) its routing loss needs.

General rows come from offline sources only: the CL benchmark's instruction-formatted classification tasks
(O-LoRA's `CL_Benchmark` release layout, read by the continual-learning loader) and the base model's own answers
to general prompts (replay: training on them pulls the model towards what it already says). Prompts are built
from the calibration half of the general prose; held-out prose and held-out tasks stay for retention.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from tooltune.adapters.molora import GENERAL, TOOL, UNLABELLED, set_routing_labels
from tooltune.methods.citi.metrics import general_paragraphs
from tooltune.train.data import Example, Formatter, encode_examples

REPLAY_PROMPT = "In one or two sentences, what does this passage say?\n\n{passage}"


def instruction_rows(root: str | Path, tasks: Sequence[str], per_task: int, seed: int = 0) -> dict[str, list[Example]]:
    """A seeded sample of `per_task` training rows of each CL benchmark task, by task name."""
    from tooltune.methods.continual.cl_benchmark import load_cl_task

    rows = {}
    for task in tasks:
        examples = load_cl_task(root, task, "train")
        rows[task] = random.Random(seed).sample(examples, min(per_task, len(examples)))
    return rows


def replay_prompts(count: int, seed: int = 0) -> list[str]:
    """`count` general prompts about passages of the calibration prose (seeded choice)."""
    passages = [p for p in general_paragraphs("calibration") if 20 <= len(p.split()) <= 120]
    chosen = random.Random(seed).sample(passages, min(count, len(passages)))
    return [REPLAY_PROMPT.format(passage=p) for p in chosen]


def replay_rows(model: nn.Module, tokenizer: Any, prompts: Sequence[str], max_new_tokens: int = 96,
                batch_size: int = 8) -> list[Example]:
    """The model's own greedy answers to `prompts`, as SFT rows (answers left empty are dropped)."""
    from tooltune.models.hf_local import HFChatModel
    from tooltune.models.types import ChatRequest, GenerationConfig

    was_training = model.training
    chat = HFChatModel(model, tokenizer, name="replay")
    config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0)
    rows: list[Example] = []
    try:
        for start in range(0, len(prompts), batch_size):
            chunk = prompts[start:start + batch_size]
            answers = chat.chat_batch([ChatRequest([{"role": "user", "content": p}]) for p in chunk], config)
            rows += [{"messages": [{"role": "user", "content": p}, {"role": "assistant", "content": a.content.strip()}]}
                     for p, a in zip(chunk, answers) if a.content and a.content.strip()]
    finally:
        model.train(was_training)
    return rows


def general_count(tool_rows: int, share: float) -> int:
    """General rows that make up `share` of a mix with `tool_rows` tool rows."""
    return round(tool_rows * share / (1 - share))


class SampleKinds:
    """The label of every encoded training row (tool or general), found again by its tokens in each forward.

    The trainer encodes rows itself, so the label cannot ride along in the batch; instead the same encoding is
    done here and each batch row is looked up by its unpadded token ids (rows found in neither list are
    UNLABELLED and left out of the routing loss)."""

    def __init__(self, tokenizer: Any, tool: Sequence[Example], general: Sequence[Example], max_length: int,
                 formatter: Formatter | None = None) -> None:
        self.kinds: dict[tuple[int, ...], int] = {}
        for kind, rows in ((GENERAL, general), (TOOL, tool)):
            if rows:
                for row in encode_examples(tokenizer, rows, max_length, formatter):
                    self.kinds[tuple(row["input_ids"])] = kind

    def lookup(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Labels [batch] of a batch of (right- or left-) padded rows."""
        keys = [tuple(ids[mask.bool()].tolist()) for ids, mask in zip(input_ids, attention_mask)]
        return torch.tensor([self.kinds.get(key, UNLABELLED) for key in keys], dtype=torch.long)

    def attach(self, model: nn.Module) -> RemovableHandle:
        """Label every forward of `model` (a pre-hook); remove the handle (and `set_routing_labels(model, None)`)
        when training is over."""
        def label(module: nn.Module, args: tuple, kwargs: dict) -> None:
            ids = kwargs.get("input_ids", args[0] if args else None)
            if ids is None:
                set_routing_labels(module, None)
                return
            mask = kwargs.get("attention_mask")
            mask = torch.ones_like(ids) if mask is None else mask
            set_routing_labels(module, self.lookup(ids.cpu(), mask.cpu()), mask)

        return model.register_forward_pre_hook(label, with_kwargs=True)
