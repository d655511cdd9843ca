"""The shared training loop (layer 2): SFT data on the model's chat template, staged Trainer, evaluation."""

from tooltune.train.data import (
    IGNORE_INDEX,
    PaddingCollator,
    SFTDataError,
    cut_after_tool_calls,
    encode_chat,
    encode_examples,
    load_sft_jsonl,
)
from tooltune.train.eval import ToolCallScores, multiple_choice_accuracy, perplexity, tool_call_accuracy
from tooltune.train.trainer import Stage, StageResult, ToolTuneTrainer, TrainConfig, apply_trainable, train_stages

__all__ = [
    "IGNORE_INDEX",
    "PaddingCollator",
    "SFTDataError",
    "Stage",
    "StageResult",
    "ToolTuneTrainer",
    "ToolCallScores",
    "TrainConfig",
    "apply_trainable",
    "cut_after_tool_calls",
    "encode_chat",
    "encode_examples",
    "load_sft_jsonl",
    "multiple_choice_accuracy",
    "perplexity",
    "tool_call_accuracy",
    "train_stages",
]
