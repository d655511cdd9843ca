"""Teachers write rationales (chain of thought) and symbolic knowledge for each training question.

Any `ChatModel` can teach (SKIntern used GPT-3.5 at temperature 0.8, two rationales per question, and
knowledge written from the question, its answer and a rationale, best of several candidates); for generated
tasks a deterministic teacher returns the rationales and rule knowledge that code wrote. Rationales whose
final answer is wrong are dropped either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from tqdm import tqdm

from tooltune.methods.internalize.retrieve import RetrieverKind, make_retriever
from tooltune.methods.internalize.tasks import TaskItem
from tooltune.models.base import ChatModel
from tooltune.models.types import GenerationConfig

_ANSWER = re.compile(r"answer\s*(?:is|:)?\s*:?\s*\$?(-?[\d,]*\.?\d+)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d[\d,]*\.?\d*")


def extract_answer(text: str | None) -> str | None:
    """The final answer of a rationale: the number after the last "Answer:", else the last number."""
    if not text:
        return None
    found = _ANSWER.findall(text)
    if not found:
        found = _NUMBER.findall(text)
    if not found:
        return None
    return found[-1].replace(",", "").rstrip(".")


def answers_match(predicted: str | None, gold: str) -> bool:
    """Numeric comparison when both parse as numbers, else case-insensitive string equality."""
    if predicted is None:
        return False
    try:
        return abs(float(predicted) - float(gold)) < 1e-6
    except ValueError:
        return predicted.strip().lower() == gold.strip().lower()


@dataclass
class Teaching:
    """What the teacher wrote for one question; `dropped` counts rationales with a wrong final answer."""

    item_id: str
    rationales: list[str]
    knowledge: str
    dropped: int = 0
    raw: list[str] = field(default_factory=list)


class Teacher(Protocol):
    name: str

    def teach(self, item: TaskItem) -> Teaching:
        """Rationales (wrong ones dropped) and knowledge for a training question."""
        ...

    def knowledge(self, item: TaskItem) -> str:
        """Knowledge alone (for test questions of the knowledge-augmented prompting baseline)."""
        ...


def keep_correct(rationales: list[str], gold: str) -> tuple[list[str], int]:
    """The rationales whose extracted final answer equals `gold`, and how many were dropped."""
    kept = [r for r in rationales if answers_match(extract_answer(r), gold)]
    return kept, len(rationales) - len(kept)


class DeterministicTeacher:
    """Returns the code-written rationales and knowledge of generated tasks (filtered all the same)."""

    name = "deterministic"

    def __init__(self, num_rationales: int = 2) -> None:
        if num_rationales < 1:
            raise ValueError(f"num_rationales must be >= 1, got {num_rationales}")
        self.num_rationales = num_rationales

    def knowledge(self, item: TaskItem) -> str:
        if item.knowledge is None:
            raise ValueError(f"item {item.id!r} has no code-written knowledge; use a ChatModelTeacher for this task")
        return item.knowledge

    def teach(self, item: TaskItem) -> Teaching:
        if not item.rationales:
            raise ValueError(f"item {item.id!r} has no code-written rationales; use a ChatModelTeacher for this task")
        written = item.rationales[: self.num_rationales]
        kept, dropped = keep_correct(written, item.answer)
        return Teaching(item.id, kept, self.knowledge(item), dropped, raw=list(written))


RATIONALE_PROMPT = (
    "Solve the problem step by step. Keep it short and end with a line 'Answer: <number>'.\n\n{facts}Problem: {question}"
)
KNOWLEDGE_TASK = (
    "Write the knowledge needed to solve problems like this one, without solving it.\n"
    "Learning summary: a short numbered list of general steps and precautions.\n"
    "Supplementary knowledge: the background facts, rules, formulas or definitions it needs.\n\n{facts}Problem: {question}"
)
KNOWLEDGE_PROMPT = KNOWLEDGE_TASK + "\nCorrect answer: {answer}\nA correct solution:\n{rationale}"
"""SKIntern's knowledge prompt: the question with its gold answer and a correct rationale."""


def known_facts(item: TaskItem) -> str:
    """The facts line of a teacher prompt (empty when the task has none)."""
    return f"Known fact: {item.facts}\n\n" if item.facts else ""


class ChatModelTeacher:
    """Any model backend as teacher: `num_rationales` sampled rationales, then `knowledge_candidates` knowledge
    texts written from the question, the gold answer and a kept rationale; the candidate most similar to the
    question and that rationale (`retriever`: embedding when installed, else BM25) is kept."""

    def __init__(self, model: ChatModel, *, num_rationales: int = 2, knowledge_candidates: int = 3,
                 temperature: float = 0.8, max_new_tokens: int = 256, retriever: RetrieverKind = "auto") -> None:
        for name, value in (("num_rationales", num_rationales), ("knowledge_candidates", knowledge_candidates)):
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")
        self.model = model
        self.name = f"chat:{model.name}"
        self.num_rationales = num_rationales
        self.knowledge_candidates = knowledge_candidates
        self.temperature = temperature
        self.max_new_tokens = max_new_tokens
        self.retriever = retriever

    def _write(self, prompt: str, temperature: float, seed: int) -> str:
        config = GenerationConfig(max_new_tokens=self.max_new_tokens, temperature=temperature, seed=seed)
        return (self.model.chat([{"role": "user", "content": prompt}], None, config).content or "").strip()

    def teach(self, item: TaskItem) -> Teaching:
        raw = [self._write(RATIONALE_PROMPT.format(facts=known_facts(item), question=item.question), self.temperature, i)
               for i in range(self.num_rationales)]
        kept, dropped = keep_correct(raw, item.answer)
        if not kept:  # the question is unusable; no knowledge is written for it
            return Teaching(item.id, kept, "", dropped, raw=raw)
        prompt = KNOWLEDGE_PROMPT.format(facts=known_facts(item), question=item.question, answer=item.answer,
                                         rationale=kept[0])
        return Teaching(item.id, kept, self._best_knowledge(prompt, f"{item.question}\n{kept[0]}"), dropped, raw=raw)

    def knowledge(self, item: TaskItem) -> str:
        """Knowledge for a held-out question, written from the question alone (its answer stays unseen)."""
        return self._best_knowledge(KNOWLEDGE_TASK.format(facts=known_facts(item), question=item.question), item.question)

    def _best_knowledge(self, prompt: str, reference: str) -> str:
        """`knowledge_candidates` samples (one greedy text when 1); the one most similar to `reference`."""
        n = self.knowledge_candidates
        candidates = [c for c in dict.fromkeys(self._write(prompt, self.temperature if n > 1 else 0.0, i)
                                               for i in range(n)) if c]
        if len(candidates) < 2:
            return candidates[0] if candidates else ""
        best = make_retriever(candidates, self.retriever).top_k(reference, 1)
        return candidates[best[0] if best else 0]


def teach_all(teacher: Teacher, items: list[TaskItem]) -> list[Teaching]:
    """Teach every item; items left with no correct rationale are still returned (with none) for accounting."""
    return [teacher.teach(item) for item in tqdm(items, desc=f"teacher {teacher.name}", leave=False)]


def make_teacher(spec: str, *, num_rationales: int = 2, knowledge_candidates: int = 3,
                 retriever: RetrieverKind = "auto") -> Teacher:
    """`deterministic` (code-written, generated tasks only) or any model spec of the model layer."""
    if spec == "deterministic":
        return DeterministicTeacher(num_rationales)
    from tooltune.models.registry import load_model

    return ChatModelTeacher(load_model(spec), num_rationales=num_rationales, knowledge_candidates=knowledge_candidates,
                            retriever=retriever)
