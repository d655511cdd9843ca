"""The shared training loop (layer 2): SFT data on the model's chat template, staged Trainer, evaluation."""

from tooltune.train.data import (
    IGNORE_INDEX,
    PaddingCollator,
    SFTDataError,
    encode_chat,
    encode_examples,
    load_sft_jsonl,
)
from tooltune.train.trainer import Stage, StageResult, ToolTuneTrainer, TrainConfig, apply_trainable, train_stages

__all__ = [
    "IGNORE_INDEX",
    "PaddingCollator",
    "SFTDataError",
    "Stage",
    "StageResult",
    "ToolTuneTrainer",
    "TrainConfig",
    "apply_trainable",
    "encode_chat",
    "encode_examples",
    "load_sft_jsonl",
    "train_stages",
]
