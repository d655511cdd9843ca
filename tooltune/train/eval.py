"""Evaluation beside training: tool-call accuracy on held-out SFT conversations, perplexity on text, and
multiple-choice scoring by log-likelihood (for small general tasks).

Tool calls are generated through `HFChatModel`, i.e. with exactly the prompt and parser the benchmark uses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from tooltune.models.base import ChatModel
from tooltune.models.hf_local import HFChatModel
from tooltune.models.text_protocol import arguments_as_dict
from tooltune.models.types import ChatRequest, GenerationConfig
from tooltune.train.data import Example


@dataclass
class ToolCallPosition:
    """One place in a conversation where the gold assistant turn calls tools."""

    messages: list[dict]
    tools: list[dict]
    gold: list[tuple[str, dict]]


@dataclass
class ToolCallScores:
    """Share of positions where the predicted calls match the gold ones (names only / names and arguments)."""

    positions: int
    name_accuracy: float
    exact_accuracy: float
    parse_error_rate: float
    no_call_rate: float
    details: list[dict] = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, float | int]:
        data = asdict(self)
        data.pop("details")
        return data


def tool_call_positions(examples: Sequence[Example]) -> list[ToolCallPosition]:
    """Every assistant turn with tool calls, with the conversation before it as the prompt."""
    positions = []
    for example in examples:
        messages = example["messages"]
        for i, message in enumerate(messages):
            if message["role"] == "assistant" and message.get("tool_calls"):
                gold = [(c["function"]["name"], canonical_arguments(c["function"].get("arguments")))
                        for c in message["tool_calls"]]
                positions.append(ToolCallPosition(messages[:i], example.get("tools") or [], gold))
    return positions


def canonical_arguments(arguments: Any) -> dict:
    """Arguments as a plain dict with a stable JSON form (so 1 == 1.0 and key order do not matter)."""
    return json.loads(json.dumps(arguments_as_dict(arguments), sort_keys=True))


def tool_call_accuracy(model: nn.Module, tokenizer: Any, examples: Sequence[Example], batch_size: int = 8,
                       max_new_tokens: int = 96, max_positions: int | None = None) -> ToolCallScores:
    """Greedy-generate the assistant turn at each tool-calling position of `examples` and score it."""
    was_training = model.training
    try:
        return score_tool_calls(HFChatModel(model, tokenizer, name="eval"), examples, batch_size, max_new_tokens,
                                max_positions)
    finally:
        model.train(was_training)


def score_tool_calls(chat: ChatModel, examples: Sequence[Example], batch_size: int = 8, max_new_tokens: int = 96,
                     max_positions: int | None = None) -> ToolCallScores:
    """Compare the calls `chat` makes at each gold tool-calling position with the gold calls (any backend)."""
    positions = tool_call_positions(examples)[:max_positions]
    if not positions:
        raise ValueError("examples: no assistant turn with tool_calls to evaluate")
    config = GenerationConfig(max_new_tokens=max_new_tokens, temperature=0.0)
    names = exact = errors = empty = 0
    details = []
    for start in tqdm(range(0, len(positions), batch_size), desc="tool-call eval", leave=False):
        chunk = positions[start:start + batch_size]
        answers = chat.chat_batch([ChatRequest(p.messages, p.tools) for p in chunk], config)
        for position, answer in zip(chunk, answers):
            predicted = [(c.name, canonical_arguments(c.arguments)) for c in answer.tool_calls]
            name_ok = [n for n, _ in predicted] == [n for n, _ in position.gold]
            exact_ok = name_ok and predicted == position.gold
            names += name_ok
            exact += exact_ok
            errors += bool(answer.parse_errors)
            empty += not predicted
            details.append({"gold": position.gold, "predicted": predicted, "text": answer.raw_text,
                            "name_ok": name_ok, "exact_ok": exact_ok})
    n = len(positions)
    return ToolCallScores(n, names / n, exact / n, errors / n, empty / n, details)


@torch.no_grad()
def perplexity(model: nn.Module, tokenizer: Any, text: str, window: int = 256, max_windows: int = 32,
               batch_size: int = 4) -> float:
    """exp(mean next-token NLL) over consecutive non-overlapping `window`-token blocks of `text`."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    blocks = [ids[i:i + window] for i in range(0, len(ids) - window + 1, window)][:max_windows]
    if not blocks:
        raise ValueError(f"text: fewer than window={window} tokens")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    for start in range(0, len(blocks), batch_size):
        batch = torch.tensor(blocks[start:start + batch_size], device=device)
        logits = model(input_ids=batch).logits[:, :-1].float()
        nll = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[:, 1:].reshape(-1),
                                          reduction="sum")
        total += float(nll)
        count += batch[:, 1:].numel()
    model.train(was_training)
    return math.exp(total / count)


@dataclass
class ChoiceItem:
    """A multiple-choice item: which continuation of `context` is most likely?"""

    context: str
    choices: list[str]
    answer: int


@torch.no_grad()
def choice_scores(model: nn.Module, tokenizer: Any, item: ChoiceItem) -> list[float]:
    """The summed log-likelihood of each choice after the context. The context runs once; its KV cache is
    repeated for the choices, which run as one right-padded batch."""
    device = next(model.parameters()).device
    context = tokenizer(item.context, add_special_tokens=False)["input_ids"]
    choices = [tokenizer(c, add_special_tokens=False)["input_ids"] for c in item.choices]
    if not context or not all(choices):
        raise ValueError("item: the context and every choice need at least one token")
    out = model(input_ids=torch.tensor([context], device=device), use_cache=True)
    first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    cache = out.past_key_values
    cache.batch_repeat_interleave(len(choices))
    width = max(len(c) for c in choices)
    # any id pads: padded positions are masked and never scored, so unlike train.data.pad_token_id this needs
    # neither a pad nor an EOS token
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batch = torch.tensor([c + [pad] * (width - len(c)) for c in choices], device=device)
    mask = torch.tensor([[1] * (len(context) + len(c)) + [0] * (width - len(c)) for c in choices], device=device)
    logits = model(input_ids=batch, attention_mask=mask, past_key_values=cache).logits[:, :-1]
    rest = torch.log_softmax(logits.float(), dim=-1).gather(-1, batch[:, 1:].unsqueeze(-1)).squeeze(-1)
    return [float(first[c[0]] + rest[i, :len(c) - 1].sum()) for i, c in enumerate(choices)]


def multiple_choice_accuracy(model: nn.Module, tokenizer: Any, items: Sequence[ChoiceItem]) -> float:
    """Share of items whose correct choice has the highest summed log-likelihood after the context."""
    if not items:
        raise ValueError("items: nothing to score")
    was_training = model.training
    model.eval()
    try:
        correct = 0
        for item in items:
            scores = choice_scores(model, tokenizer, item)
            correct += int(max(range(len(scores)), key=scores.__getitem__) == item.answer)
    finally:
        model.train(was_training)
    return correct / len(items)
