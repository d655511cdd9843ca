"""Training data of each approach: SKIntern's decaying stages, Std-CoT (question only), and the
knowledge + few-shot prompts of the prompting baseline (the same prompt as SKIntern's stage 0)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tooltune.methods.internalize.compress import Compressor, SurprisalCompressor
from tooltune.methods.internalize.prompts import (
    Example,
    chat_messages,
    render_prompt,
    stage_prompt,
)
from tooltune.methods.internalize.retrieve import Retriever
from tooltune.methods.internalize.schedule import DecaySchedule
from tooltune.methods.internalize.tasks import TaskItem
from tooltune.methods.internalize.teacher import Teaching


@dataclass
class TaughtSet:
    """Training questions that kept at least one correct rationale, with the teacher's output."""

    items: list[TaskItem]
    teachings: dict[str, Teaching]

    @classmethod
    def from_teachings(cls, items: list[TaskItem], teachings: list[Teaching]) -> TaughtSet:
        by_id = {t.item_id: t for t in teachings}
        kept = [i for i in items if by_id.get(i.id) and by_id[i.id].rationales]
        return cls(kept, {i.id: by_id[i.id] for i in kept})

    def example(self, index: int) -> Example:
        item = self.items[index]
        return Example(item.question, self.teachings[item.id].rationales[0])


def neighbours(queries: list[TaskItem], pool: TaughtSet, retriever: Retriever, k: int) -> dict[str, list[Example]]:
    """The top-k most similar taught questions for each query; `retriever` indexes `pool.items` questions."""
    return {q.id: [pool.example(i) for i in retriever.top_k(q.question, k)] for q in queries}


def skintern_stages(
    taught: TaughtSet,
    shots: dict[str, list[Example]],
    schedule: DecaySchedule,
    compressor: Compressor,
    *,
    seed: int = 0,
) -> list[list[dict]]:
    """One SFT dataset per stage: each rationale behind the stage's compressed knowledge and examples."""
    if isinstance(compressor, SurprisalCompressor):
        compressor.prepare([taught.teachings[i.id].knowledge for i in taught.items])
    rng = random.Random(seed)
    stages = []
    for plan in schedule.plans():
        rows = []
        for item in taught.items:
            teaching = taught.teachings[item.id]
            for rationale in teaching.rationales:
                prompt = stage_prompt(item.question, teaching.knowledge, shots.get(item.id, []), plan, compressor, rng)
                rows.append({"messages": chat_messages(prompt, rationale), "stage": plan.index, "id": item.id})
        stages.append(rows)
    return stages


def std_cot_dataset(taught: TaughtSet) -> list[dict]:
    """Standard CoT distillation: the question alone, every kept rationale as target."""
    return [
        {"messages": chat_messages(render_prompt(item.question), rationale), "id": item.id}
        for item in taught.items
        for rationale in taught.teachings[item.id].rationales
    ]


def knowledge_prompts(items: list[TaskItem], knowledge: dict[str, str], shots: dict[str, list[Example]]) -> list[list[dict]]:
    """Inference prompts of knowledge + few-shot prompting (no training; what SKIntern's stage 0 shows)."""
    return [chat_messages(render_prompt(i.question, knowledge.get(i.id, ""), shots.get(i.id, []))) for i in items]


def question_prompts(items: list[TaskItem]) -> list[list[dict]]:
    """Inference prompts from the question alone (Std-CoT, internalized, zero-shot)."""
    return [chat_messages(render_prompt(i.question)) for i in items]
