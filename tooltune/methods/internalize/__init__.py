"""Progressive internalization (after SKIntern, arXiv 2409.13183): knowledge and examples in the prompt
at first, decayed linearly stage by stage until the student answers from the question alone: `config` (knobs;
`defaults` sets each once), `method` (LoRA student trained stage by stage), `experiment` (the task experiment
and `run_internalize`; `profile` the user-profile one), `metrics` (inference cost beside accuracy), and the
pieces they use.

Names below load on first use, so importing `defaults` (as the command line does) imports no torch."""

from __future__ import annotations

from importlib import import_module
from typing import Any

_HOMES = {
    "ApproachResult": "metrics", "count_parameters": "metrics", "forward_flops": "metrics",
    "SurprisalCompressor": "compress", "make_compressor": "compress",
    "InternalizeConfig": "config", "ProfileConfig": "config",
    "run_internalize": "experiment", "run_task_experiment": "experiment",
    "run_profile_experiment": "profile",
    "BM25Retriever": "retrieve", "EmbeddingRetriever": "retrieve", "make_retriever": "retrieve",
    "DecaySchedule": "schedule", "StagePlan": "schedule", "decay_ratios": "schedule",
    "TaskItem": "tasks", "unit_word_problems": "tasks",
    "ChatModelTeacher": "teacher", "DeterministicTeacher": "teacher",
    "Event": "progress",
}

__all__ = [
    "ApproachResult",
    "BM25Retriever",
    "ChatModelTeacher",
    "DecaySchedule",
    "DeterministicTeacher",
    "EmbeddingRetriever",
    "Event",
    "InternalizeConfig",
    "ProfileConfig",
    "StagePlan",
    "SurprisalCompressor",
    "TaskItem",
    "count_parameters",
    "decay_ratios",
    "forward_flops",
    "make_compressor",
    "make_retriever",
    "run_internalize",
    "run_profile_experiment",
    "run_task_experiment",
    "unit_word_problems",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
