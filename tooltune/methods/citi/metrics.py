"""Retention of general ability: perplexity on held-out general English and a cloze task built from it.

The text is Python's own documentation topics (`pydoc_data.topics`, shipped with every CPython), prose
paragraphs only. Topics are split by name into a calibration half (allowed for importance scoring) and an
evaluation half that nothing ever trains or selects on. Tool data is never used here.
"""

from __future__ import annotations

import random
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from torch import nn

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


@dataclass
class RetentionScores:
    general_perplexity: float
    cloze_accuracy: float
    cloze_items: int

    def summary(self) -> dict[str, Any]:
        return asdict(self)


def retention_check(model: nn.Module, tokenizer: Any, window: int = 256, max_windows: int = 16,
                    cloze_count: int = 60, seed: int = 0) -> RetentionScores:
    """Perplexity on the held-out half of the documentation and four-way cloze accuracy (chance 0.25)."""
    ppl = perplexity(model, tokenizer, general_text("eval"), window=window, max_windows=max_windows)
    items = cloze_items(cloze_count, seed=seed)
    return RetentionScores(ppl, multiple_choice_accuracy(model, tokenizer, items), len(items))
