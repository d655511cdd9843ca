"""Scorers for the continual loop: score(model, tokenizer, held-out examples) -> accuracy in [0, 1].

`greedy_turn_accuracy` is exact and cheap: an assistant turn counts when, fed the gold prefix, the model's
argmax reproduces every token of the turn (including its end token); that is exactly when greedy decoding
would write the turn verbatim. One forward pass per batch instead of token-by-token generation.
`token_accuracy` is the graded version: the share of those tokens predicted right.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import nn

from tooltune.train.data import IGNORE_INDEX, Example, PaddingCollator, encode_examples, pad_token_id
from tooltune.train.eval import tool_call_accuracy

Scorer = Callable[[nn.Module, Any, Sequence[Example]], float]
"""score(model, tokenizer, held-out examples) -> accuracy in [0, 1]."""


def turn_spans(labels: torch.Tensor) -> list[tuple[int, int]]:
    """[start, end) of each run of supervised positions (one assistant turn each) in a 1-D label row."""
    spans, start = [], None
    for position, supervised in enumerate((labels != IGNORE_INDEX).tolist()):
        if supervised and start is None:
            start = position
        elif not supervised and start is not None:
            spans.append((start, position))
            start = None
    if start is not None:
        spans.append((start, len(labels)))
    return spans


@torch.no_grad()
def predicted_turns(model: nn.Module, tokenizer: Any, examples: Sequence[Example], max_length: int = 1024,
                    batch_size: int = 4, bf16: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(argmax prediction, gold tokens) of every assistant turn, with the gold conversation as the prefix;
    `bf16` runs the forward passes under bf16 autocast (as `--bf16` training does). Examples are batched in
    order of length (less padding), so the turns come in that order."""
    encoded = sorted(encode_examples(tokenizer, examples, max_length), key=lambda e: len(e["input_ids"]))
    if not encoded:
        raise ValueError("examples: none has an assistant turn left after truncation")
    collate = PaddingCollator(pad_token_id(tokenizer))
    device = next(model.parameters()).device
    for first in range(0, len(encoded), batch_size):
        batch = {k: v.to(device) for k, v in collate(encoded[first:first + batch_size]).items()}
        # labels go in so that input-dependent adapters (DATA) see the prompt as their query, as in training
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                           labels=batch["labels"]).logits
        predicted = logits[:, :-1].argmax(-1)
        for row in range(predicted.shape[0]):
            gold = batch["labels"][row, 1:]
            for start, end in turn_spans(gold):
                yield predicted[row, start:end], gold[start:end]


def greedy_turn_accuracy(model: nn.Module, tokenizer: Any, examples: Sequence[Example], max_length: int = 1024,
                         batch_size: int = 4, bf16: bool = False) -> float:
    """Share of assistant turns that greedy decoding reproduces exactly, given the gold conversation so far."""
    turns = [torch.equal(p, g) for p, g in predicted_turns(model, tokenizer, examples, max_length, batch_size, bf16)]
    return sum(turns) / len(turns) if turns else 0.0


def token_accuracy(model: nn.Module, tokenizer: Any, examples: Sequence[Example], max_length: int = 1024,
                   batch_size: int = 4, bf16: bool = False) -> float:
    """Share of assistant-turn tokens the model predicts (argmax) from the gold prefix: a graded signal that
    moves before whole turns come out right, so it shows learning and forgetting on little data."""
    hits = total = 0
    for predicted, gold in predicted_turns(model, tokenizer, examples, max_length, batch_size, bf16):
        hits += int((predicted == gold).sum())
        total += gold.numel()
    return hits / total if total else 0.0


def tool_call_scorer(batch_size: int = 8, max_new_tokens: int = 96) -> Scorer:
    """Exact tool-call accuracy (name + arguments) by greedy generation, as the benchmark prompts the model."""
    def score(model: nn.Module, tokenizer: Any, examples: Sequence[Example]) -> float:
        return tool_call_accuracy(model, tokenizer, examples, batch_size=batch_size,
                                  max_new_tokens=max_new_tokens).exact_accuracy
    return score


def teacher_forced_scorer(kind: str, max_length: int, batch_size: int = 4, bf16: bool = False) -> Scorer:
    """`greedy`: share of assistant turns greedy decoding reproduces verbatim; `token`: share of their tokens
    predicted right. Both take one forward pass per batch (no generation), under bf16 autocast if `bf16`."""
    function = {"greedy": greedy_turn_accuracy, "token": token_accuracy}.get(kind)
    if function is None:
        raise ValueError(f"scorer must be 'greedy' or 'token', got {kind!r}")

    def score(model: nn.Module, tokenizer: Any, examples: Sequence[Example]) -> float:
        return function(model, tokenizer, examples, max_length=max_length, batch_size=batch_size, bf16=bf16)
    return score
