"""Continual learning over a task sequence (DATA, arXiv 2502.11482, and the SeqLoRA, O-LoRA and multitask
baselines): `config` (settings, tasks), `method` (one class per method), `experiment` (the resumable loop over
the sequence), `metrics` (AP, F.Ra, BWT, FWT), `scoring` (scorers), `cl_benchmark` (O-LoRA's CL_Benchmark)."""

from tooltune.methods.continual.config import METHOD_NAMES, ContinualConfig, ContinualError, ContinualTask
from tooltune.methods.continual.experiment import (
    ContinualResult,
    ContinualRun,
    Progress,
    check_continual_dirs,
    describe_tasks,
    format_results,
    load_task_files,
    run_continual,
    run_sequence,
)
from tooltune.methods.continual.method import METHODS, ContinualMethod
from tooltune.methods.continual.metrics import ContinualMetrics, continual_metrics
from tooltune.methods.continual.scoring import Scorer, teacher_forced_scorer, tool_call_scorer

__all__ = [
    "METHODS",
    "METHOD_NAMES",
    "ContinualConfig",
    "ContinualError",
    "ContinualMethod",
    "ContinualMetrics",
    "ContinualResult",
    "ContinualRun",
    "ContinualTask",
    "Progress",
    "Scorer",
    "check_continual_dirs",
    "continual_metrics",
    "describe_tasks",
    "format_results",
    "load_task_files",
    "run_continual",
    "run_sequence",
    "teacher_forced_scorer",
    "tool_call_scorer",
]
