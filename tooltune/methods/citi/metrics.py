"""Retention of general ability: perplexity on held-out general English, a cloze task built from it, and
zero-shot accuracy on held-out general tasks, each with its standard error; the router's expert mass.

The text is Python's own documentation topics (`pydoc_data.topics`, shipped with every CPython), prose
paragraphs only. Topics are split by name into a calibration half (allowed for importance scoring) and an
evaluation half that nothing ever trains or selects on. Tool data is never used here.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import nn

from tooltune.adapters.molora import MoLoRALinear
from tooltune.train.data import Example, encode_examples, render_chat
from tooltune.train.eval import ChoiceItem, multiple_choice_accuracy, perplexity

Split = Literal["calibration", "eval"]
_WORD = re.compile(r"^[A-Za-z]+$")


def general_paragraphs(split: Split = "eval") -> list[str]:
    """Prose paragraphs of the documentation topics of one half (even/odd topic index in name order)."""
    from pydoc_data.topics import topics

    if split not in ("calibration", "eval"):
        raise ValueError(f"split must be 'calibration' or 'eval', got {split!r}")
    halves: dict[str, list[str]] = {"calibration": [], "eval": []}
    for index, name in enumerate(sorted(topics)):
        for block in re.split(r"\n\s*\n", topics[name]):
            lines = block.splitlines()
            if not lines or any(line[:1].isspace() or line[:1] in "+|" for line in lines) \
                    or set(lines[-1].strip()) <= set("*=-"):
                continue  # code samples, tables, indented definitions and headings are not prose
            text = " ".join(line.strip() for line in lines)
            if len(text.split()) >= 8:
                halves["calibration" if index % 2 == 0 else "eval"].append(text)
    if split == "calibration":
        return halves["calibration"]
    seen = set(halves["calibration"])  # some topics repeat paragraphs of others
    return [p for p in halves["eval"] if p not in seen]


def general_text(split: Split = "eval") -> str:
    """One string of prose from the chosen half."""
    return "\n\n".join(general_paragraphs(split))


def cloze_items(count: int = 100, seed: int = 0, split: Split = "eval") -> list[ChoiceItem]:
    """Four-way cloze: a sentence without its last word, the true word among three final words of others."""
    sentences = []
    for paragraph in general_paragraphs(split):
        for sentence in re.split(r"(?<=[.!?])\s+", paragraph):
            words = sentence.rstrip(".!?").split()
            if 8 <= len(words) <= 40 and sentence.endswith(".") and _WORD.match(words[-1]) and len(words[-1]) >= 4:
                sentences.append((" ".join(words[:-1]), words[-1]))
    rng = random.Random(seed)
    rng.shuffle(sentences)
    pool = sorted({word for _, word in sentences})
    items = []
    for context, word in sentences[:count]:
        distractors = rng.sample([w for w in pool if w.lower() != word.lower()], 3)
        choices = [word] + distractors
        rng.shuffle(choices)
        items.append(ChoiceItem(context, [" " + c for c in choices], choices.index(word)))
    if len(items) < count:
        raise ValueError(f"count: only {len(items)} cloze items available in the {split} split")
    return items


def mean_se(values: Sequence[float]) -> tuple[float, float]:
    """Mean and its standard error (sample standard deviation / sqrt(n); 0 for a single value)."""
    n = len(values)
    if n == 0:
        raise ValueError("values: nothing to average")
    mean = sum(values) / n
    if n == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1) / n)


def prose_documents(count: int, window: int, tokenizer: Any, split: Split = "eval") -> list[str]:
    """Up to `count` documents of consecutive paragraphs of one half, each at least `window` tokens long."""
    documents, current = [], []
    for paragraph in general_paragraphs(split):
        current.append(paragraph)
        text = "\n\n".join(current)
        if len(tokenizer(text, add_special_tokens=False)["input_ids"]) >= window:
            documents.append(text)
            current = []
            if len(documents) == count:
                break
    return documents


def document_perplexity(model: nn.Module, tokenizer: Any, documents: Sequence[str], window: int) -> tuple[float, float]:
    """exp(mean log-perplexity) over the documents' first `window` tokens, and its standard error (delta method)."""
    logs = [math.log(perplexity(model, tokenizer, d, window=window, max_windows=1)) for d in documents]
    mean, se = mean_se(logs)
    return math.exp(mean), math.exp(mean) * se


def choice_accuracy(model: nn.Module, tokenizer: Any, items: Sequence[ChoiceItem]) -> tuple[float, float]:
    """Multiple-choice accuracy and its standard error over items."""
    return mean_se([multiple_choice_accuracy(model, tokenizer, [item]) for item in items])


def task_items(tokenizer: Any, examples: Sequence[Example], count: int, seed: int = 0) -> list[ChoiceItem]:
    """Zero-shot items of a classification task given as SFT rows: the prompt as the chat template renders it,
    the task's labels (its distinct answers) as choices."""
    labels = sorted({e["messages"][-1]["content"] for e in examples})
    chosen = random.Random(seed).sample(list(examples), min(count, len(examples)))
    return [ChoiceItem(render_chat(tokenizer, e["messages"][:-1], None, add_generation_prompt=True), labels,
                       labels.index(e["messages"][-1]["content"])) for e in chosen]


@dataclass
class RetentionScores:
    """General ability on what nothing trains or selects on; `*_se` are standard errors."""

    general_perplexity: float
    cloze_accuracy: float
    cloze_items: int
    general_perplexity_se: float = 0.0
    cloze_accuracy_se: float = 0.0
    task_accuracy: float | None = None
    task_accuracy_se: float | None = None
    task_items: int = 0

    def summary(self) -> dict[str, Any]:
        return asdict(self)


def retention_check(model: nn.Module, tokenizer: Any, window: int = 256, max_windows: int = 16,
                    cloze_count: int = 60, seed: int = 0,
                    tasks: Sequence[Sequence[Example]] = (), task_count: int = 100) -> RetentionScores:
    """Perplexity on `max_windows` held-out documents of general prose, four-way cloze accuracy (chance 0.25)
    and, given held-out `tasks` (SFT rows of classification tasks), zero-shot accuracy over their items."""
    ppl, ppl_se = document_perplexity(model, tokenizer, prose_documents(max_windows, window, tokenizer), window)
    items = cloze_items(cloze_count, seed=seed)
    cloze, cloze_se = choice_accuracy(model, tokenizer, items)
    scores = RetentionScores(ppl, cloze, len(items), ppl_se, cloze_se)
    chosen = [item for rows in tasks for item in task_items(tokenizer, rows, task_count, seed)]
    if chosen:
        scores.task_accuracy, scores.task_accuracy_se = choice_accuracy(model, tokenizer, chosen)
        scores.task_items = len(chosen)
    return scores


@torch.no_grad()
def expert_mass(model: nn.Module, tokenizer: Any, examples: Sequence[Example], max_length: int = 512) -> list[float]:
    """Per example: the router probability on the experts (not the backbone route), averaged over its tokens
    and over the model's MoLoRA layers."""
    layers = [m for m in model.modules() if isinstance(m, MoLoRALinear) and m.config.backbone_route]
    if not layers:
        raise ValueError("model: no MoLoRA layer with a backbone route")
    captured: list[torch.Tensor] = []
    hooks = [layer.register_forward_hook(lambda mod, args, out: captured.append(1 - mod.route(args[0])[0][..., 0]))
             for layer in layers]
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    masses = []
    try:
        for row in encode_examples(tokenizer, examples, max_length):
            captured.clear()
            model(input_ids=torch.tensor([row["input_ids"]], device=device))
            masses.append(float(torch.stack([c.float().mean() for c in captured]).mean()))
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return masses
