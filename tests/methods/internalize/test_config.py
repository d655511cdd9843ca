"""The internalization configs: composed from the trainer's and LoRA's configs, defaults set once."""

from __future__ import annotations

import pytest

from tooltune.adapters import TARGET_MODULES
from tooltune.methods.internalize import defaults
from tooltune.methods.internalize.config import InternalizeConfig, ProfileConfig
from tooltune.methods.internalize.method import experiment_key
from tooltune.train import TrainConfig


def test_each_experiment_takes_its_own_trainer_defaults_and_the_papers_lora():
    task = InternalizeConfig(train={"output_dir": "x"})
    profile = ProfileConfig(train={"output_dir": "x"}, user="u")
    for config, expected in ((task, defaults.TASK_TRAINING), (profile, defaults.PROFILE_TRAINING)):
        assert isinstance(config.train, TrainConfig)
        assert {k: getattr(config.train, k) for k in expected} == expected
        assert (config.lora.r, config.lora.alpha, config.lora.target_modules) == (32, 32.0, list(TARGET_MODULES))
    assert (task.total_epochs, task.rationales) == (defaults.PAPER_EPOCHS, defaults.PAPER_RATIONALES) == (12.0, 2)
    assert task.reduced() == []
    quick = InternalizeConfig(train={"output_dir": "x", "epochs": 4}, rationales=1)
    assert quick.reduced() == ["epochs (E) 4 < paper 12", "rationales (l) 1 < paper 2"]


def test_a_given_trainer_config_keeps_what_was_set_and_takes_the_rest_from_the_experiment():
    config = InternalizeConfig(train=TrainConfig(output_dir="x", learning_rate=0.5))
    assert (config.train.learning_rate, config.train.epochs, config.train.batch_size) == (0.5, 12.0, 8)
    assert config.train_config("std_cot").output_dir.endswith("x/std_cot") and config.train.output_dir == "x"


def test_the_run_key_holds_every_setting_but_unset_trainer_knobs_and_the_directory():
    key = experiment_key(InternalizeConfig(train={"output_dir": "x", "seed": 3}), "smollm2")
    assert key["train"] == {**defaults.TASK_TRAINING, "seed": 3}  # warmup, weight decay... only once set
    assert key["lora"]["r"] == 32 and key["rationales"] == 2 and key["student"] == "smollm2"
    other = experiment_key(InternalizeConfig(train={"output_dir": "elsewhere", "seed": 3}), "smollm2")
    assert other == key
    assert experiment_key(InternalizeConfig(train={"output_dir": "x", "seed": 3, "warmup_steps": 2}))["train"] != key["train"]


@pytest.mark.parametrize(("train", "field"), [({"epochs": float("inf")}, "epochs"), ({"seed": -1}, "seed"),
                                              ({"batch_size": 0}, "batch_size")])
def test_bad_trainer_fields_are_named(train, field):
    with pytest.raises(ValueError, match=field):
        InternalizeConfig(train={"output_dir": "x", **train})
