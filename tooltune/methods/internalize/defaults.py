"""Where each default of internalization is set, once: the configs use these values and the command line's
help quotes them (this module imports nothing, so `tooltune --help` stays fast)."""

from __future__ import annotations

from typing import Any

PAPER_LORA_RANK = 32
"""SKIntern's student adapter: LoRA rank 32 (alpha 32) on every linear layer."""
PAPER_RATIONALES = 2
"""SKIntern's l: teacher rationales per training question."""
PAPER_EPOCHS = 12.0
"""SKIntern's E: epochs in all (3 per stage at T = 4)."""
KNOWLEDGE_CANDIDATES = 3
"""Knowledge texts a model teacher writes per question before the most similar one is kept."""

TASK: dict[str, Any] = {"n_train": 24, "n_test": 24, "stages": 4, "examples": 2}
"""Task experiment: questions, T and K."""
TASK_TRAINING: dict[str, Any] = {"epochs": PAPER_EPOCHS, "learning_rate": 1e-3, "batch_size": 8, "max_length": 512,
                                 "logging_steps": 5}
"""Task experiment's trainer: the paper's E; lr and batch sized for a CPU."""
PROFILE: dict[str, Any] = {"n_train": 3, "n_test": 2, "stages": 3, "max_turns": 4}
"""Profile experiment: instructions of the user, T, agent turns per held-out episode."""
PROFILE_TRAINING: dict[str, Any] = {"epochs": 3.0, "learning_rate": 1e-3, "batch_size": 1, "max_length": 2048,
                                    "logging_steps": 5}
"""Profile experiment's trainer (sized for a CPU: gold trajectories are 1.3-1.9 k tokens)."""
