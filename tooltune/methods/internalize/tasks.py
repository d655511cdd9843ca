"""Generated word problems whose rule, rationale and answer code can write: a task that runs on a CPU.

Each problem converts between invented units ("1 brill = 4 quats"), so the model cannot know the rule
beforehand: the rule is exactly the knowledge that SKIntern must internalize. Some problems add a
multi-step arithmetic part (sums, groups) before the conversion.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from tooltune.methods.internalize.errors import InternalizeError


@dataclass(frozen=True)
class UnitRule:
    """1 `source` = `factor` `target`."""

    source: str
    target: str
    factor: int

    def statement(self) -> str:
        return f"1 {self.source} = {self.factor} {self.target}s"


DEFAULT_RULES: tuple[UnitRule, ...] = (
    UnitRule("brill", "quat", 4),
    UnitRule("zorp", "blim", 3),
    UnitRule("plonk", "dram", 6),
    UnitRule("vesk", "tib", 5),
    UnitRule("mirk", "fen", 2),
    UnitRule("grult", "pim", 7),
)

LEARNING_SUMMARY = (
    "Learning summary: 1. Total the amount in the first unit (add or multiply the counts). "
    "2. Multiply the total by the conversion factor."
)


@dataclass
class TaskItem:
    """One question with its gold answer; code-written rationales and knowledge when the task has them, and
    `facts` a model teacher is told (a strong teacher knows its domain; invented units it must be told)."""

    id: str
    question: str
    answer: str
    rationales: list[str] = field(default_factory=list)
    knowledge: str | None = None
    meta: dict = field(default_factory=dict)
    facts: str | None = None


def _plural(unit: str, n: int) -> str:
    return unit if n == 1 else unit + "s"


def _make(rule: UnitRule, kind: int, rng: random.Random, index: int) -> TaskItem:
    f, src, tgt = rule.factor, rule.source, rule.target
    names = ("Ana", "Ben", "Chen", "Dara", "Eli", "Fay", "Gus", "Hana")
    who = rng.choice(names)
    if kind == 0:
        a = rng.randint(2, 9)
        question = f"{who} has {a} {_plural(src, a)}. How many {tgt}s is that?"
        total, steps = a, []
    elif kind == 1:
        a, b = rng.randint(2, 9), rng.randint(2, 9)
        question = f"{who} has {a} {_plural(src, a)} and gets {b} more. How many {tgt}s does {who} have now?"
        total, steps = a + b, [f"{a} + {b} = {a + b} {_plural(src, a + b)}."]
    else:
        a, b = rng.randint(2, 5), rng.randint(2, 5)
        question = f"{who} fills {a} boxes with {b} {_plural(src, b)} each. How many {tgt}s is that in all?"
        total, steps = a * b, [f"{a} × {b} = {a * b} {_plural(src, a * b)}."]
    answer = total * f
    convert = f"{rule.statement()}, so {total} × {f} = {answer} {tgt}s."
    rationales = [
        " ".join([*steps, convert, f"Answer: {answer}"]),
        " ".join([f"The rule is {rule.statement()}.", *steps, f"{total} × {f} = {answer}.", f"Answer: {answer}"]),
    ]
    knowledge = (
        f"{LEARNING_SUMMARY}\nSupplementary knowledge: {rule.statement()}. "
        f"To turn {src}s into {tgt}s, multiply by {f}."
    )
    return TaskItem(
        id=f"unit-{index:04d}",
        question=question,
        answer=str(answer),
        rationales=rationales,
        knowledge=knowledge,
        meta={"rule": rule.source, "kind": kind},
        facts=f"{rule.statement()}.",
    )


def unit_word_problems(
    n: int, *, seed: int = 0, rules: tuple[UnitRule, ...] = DEFAULT_RULES, start_index: int = 0
) -> list[TaskItem]:
    """`n` distinct problems, cycling over the rules and the three problem shapes."""
    if n < 0:
        raise InternalizeError(f"n must be >= 0, got {n}")
    if not rules:
        raise InternalizeError("rules must not be empty")
    rng = random.Random(seed)
    items: list[TaskItem] = []
    seen: set[str] = set()
    attempts = stale = 0
    while len(items) < n:
        attempts += 1
        stale += 1
        if attempts > 100 * (n + 10) or stale > 5000:  # the rules' problems are used up (about 200 per rule)
            raise InternalizeError(f"n_train + n_test: cannot generate {n} distinct problems from {len(rules)} rules")
        i = len(items)
        item = _make(rules[i % len(rules)], (i // len(rules)) % 3, rng, start_index + i)
        if item.question not in seen:
            seen.add(item.question)
            items.append(item)
            stale = 0
    return items


def split_problems(
    n_train: int, n_test: int, *, seed: int = 0, rules: tuple[UnitRule, ...] = DEFAULT_RULES
) -> tuple[list[TaskItem], list[TaskItem]]:
    """Disjoint train and test sets (no test question appears in training)."""
    items = unit_word_problems(n_train + n_test, seed=seed, rules=rules)
    rng = random.Random(seed + 1)
    rng.shuffle(items)
    return items[:n_train], items[n_train:]
