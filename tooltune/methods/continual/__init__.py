"""Continual learning over a task sequence (DATA, arXiv 2502.11482, and the SeqLoRA, O-LoRA and multitask
baselines): `config` (knobs, tasks), `method` (one class per method), `experiment` (the resumable loop over the
sequence), `metrics` (AP, F.Ra, BWT, FWT), `scoring` (scorers), `cl_benchmark` (O-LoRA's CL_Benchmark)."""

from tooltune.methods.continual.config import METHODS, ContinualConfig, ContinualError, ContinualTask
from tooltune.methods.continual.experiment import (
    ContinualResult,
    check_continual_dirs,
    format_results,
    load_task_files,
    run_sequence,
)
from tooltune.methods.continual.metrics import ContinualMetrics, continual_metrics
from tooltune.methods.continual.scoring import Scorer, teacher_forced_scorer, tool_call_scorer

__all__ = [
    "METHODS",
    "ContinualConfig",
    "ContinualError",
    "ContinualMetrics",
    "ContinualResult",
    "ContinualTask",
    "Scorer",
    "check_continual_dirs",
    "continual_metrics",
    "format_results",
    "load_task_files",
    "run_sequence",
    "teacher_forced_scorer",
    "tool_call_scorer",
]
