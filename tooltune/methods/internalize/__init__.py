"""Progressive internalization (after SKIntern, arXiv 2409.13183): knowledge and examples in the prompt
at first, decayed linearly stage by stage until the student answers from the question alone: `config` (knobs),
`method` (LoRA student trained stage by stage), `experiment` (the task experiment; `profile` the user-profile
one), `metrics` (inference cost beside accuracy), and the pieces they use."""

from tooltune.methods.internalize.metrics import ApproachResult, count_parameters, forward_flops
from tooltune.methods.internalize.compress import SurprisalCompressor, make_compressor
from tooltune.methods.internalize.config import ProfileConfig
from tooltune.methods.internalize.profile import run_profile_experiment
from tooltune.methods.internalize.config import InternalizeConfig
from tooltune.methods.internalize.experiment import run_task_experiment
from tooltune.methods.internalize.retrieve import BM25Retriever, EmbeddingRetriever, make_retriever
from tooltune.methods.internalize.schedule import DecaySchedule, StagePlan, decay_ratios
from tooltune.methods.internalize.tasks import TaskItem, unit_word_problems
from tooltune.methods.internalize.teacher import ChatModelTeacher, DeterministicTeacher

__all__ = [
    "ApproachResult",
    "BM25Retriever",
    "ChatModelTeacher",
    "DecaySchedule",
    "DeterministicTeacher",
    "EmbeddingRetriever",
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
    "run_profile_experiment",
    "run_task_experiment",
    "unit_word_problems",
]
