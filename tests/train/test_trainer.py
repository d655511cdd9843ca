"""The shared trainer: auxiliary losses, frozen parameters untouched, stage schedules, exact resume."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from transformers import TrainerCallback

from tests.train.tiny import tiny_llama, tiny_tokenizer
from tooltune.adapters import MoLoRAConfig, adapter_parameters, inject_adapters
from tooltune.train import PaddingCollator, Stage, ToolTuneTrainer, TrainConfig, encode_examples, train_stages
from tooltune.train.trainer import training_arguments


def _chat(city: str) -> dict:
    return {"messages": [{"role": "user", "content": f"weather in {city}"},
                         {"role": "assistant", "content": f"the weather in {city} is ok"}]}


EXAMPLES = [_chat(c) for c in ("paris", "berlin", "rome", "paris", "berlin", "rome")]


def _config(tmp_path, **kwargs) -> TrainConfig:
    base = {"output_dir": str(tmp_path), "batch_size": 2, "learning_rate": 1e-2, "logging_steps": 1,
            "disable_tqdm": True, "max_length": 64}
    return TrainConfig(**{**base, **kwargs})


def _model_with_molora():
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok))
    inject_adapters(model, MoLoRAConfig(target_modules=["q_proj", "down_proj"], num_experts=2, r=2, alpha=4.0))
    return tok, model


class _PullTowards(nn.Module):
    """A module with an auxiliary loss only: pulls its parameter towards 3."""

    def __init__(self) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.zeros(()))

    def auxiliary_loss(self) -> torch.Tensor:
        return (self.value - 3.0) ** 2


def test_compute_loss_adds_auxiliary_losses(tmp_path) -> None:
    tok, model = _model_with_molora()
    model.pull = _PullTowards()
    data = encode_examples(tok, EXAMPLES[:2], 64)
    batch = PaddingCollator(tok.pad_token_id)(data)
    trainer = ToolTuneTrainer(model=model, args=training_arguments(_config(tmp_path), Stage("s", []), tmp_path),
                              train_dataset=data, data_collator=PaddingCollator(tok.pad_token_id))
    model.train()
    total = trainer.compute_loss(model, dict(batch))
    lm = model(**batch).loss
    balance = sum(m.auxiliary_loss() for m in model.modules() if hasattr(m, "balance_weight"))
    torch.testing.assert_close(total, lm + balance + 9.0)


def test_training_changes_adapters_and_leaves_frozen_parameters_bit_identical(tmp_path) -> None:
    tok, model = _model_with_molora()
    trainable = set(adapter_parameters(model))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    train_stages(model, tok, [Stage("tool", EXAMPLES, epochs=1)], _config(tmp_path))
    after = dict(model.named_parameters())
    for name, value in before.items():
        if name in trainable:
            continue
        assert torch.equal(after[name], value), f"frozen {name} changed"
    changed = [n for n in trainable if not torch.equal(after[n], before[n])]
    assert len(changed) == len(trainable), set(trainable) - set(changed)


def test_stages_switch_the_trainable_set(tmp_path) -> None:
    tok, model = _model_with_molora()
    adapters = set(adapter_parameters(model))
    down = "model.layers.1.mlp.up_proj"
    results = train_stages(model, tok, [
        Stage("adapters", EXAMPLES[:4], epochs=1, trainable=adapters),
        Stage("full", EXAMPLES[:4], epochs=1, learning_rate=1e-3, trainable={down}),
    ], _config(tmp_path))
    after_first = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert [r.name for r in results] == ["adapters", "full"]
    assert results[1].trainable_parameters == model.get_submodule(down).weight.numel()
    assert all(not p.requires_grad for n, p in model.named_parameters() if not n.startswith(down))
    # replaying: a second call skips finished stages and restores their weights into a fresh model
    tok2, fresh = _model_with_molora()
    replay = train_stages(fresh, tok2, [
        Stage("adapters", EXAMPLES[:4], epochs=1, trainable=adapters),
        Stage("full", EXAMPLES[:4], epochs=1, learning_rate=1e-3, trainable={down}),
    ], _config(tmp_path))
    assert all(r.skipped for r in replay)
    for name, param in fresh.named_parameters():
        assert torch.equal(param, after_first[name]), name


def test_stage_with_nothing_trainable_is_rejected(tmp_path) -> None:
    tok, model = _model_with_molora()
    with pytest.raises(ValueError, match="trainable"):
        train_stages(model, tok, [Stage("none", EXAMPLES, trainable=lambda name: False)], _config(tmp_path))


class _Crash(Exception):
    pass


class _CrashAfterSave(TrainerCallback):
    def __init__(self, at_step: int) -> None:
        self.at_step = at_step

    def on_save(self, args, state, control, **kwargs):
        if state.global_step == self.at_step:
            raise _Crash


def test_interrupted_run_resumes_exactly(tmp_path) -> None:
    stages = lambda callbacks: [  # noqa: E731
        Stage("one", EXAMPLES, epochs=2, callbacks=callbacks),
        Stage("two", EXAMPLES[:4], epochs=1, learning_rate=5e-3),
    ]
    tok, straight = _model_with_molora()
    train_stages(straight, tok, stages([]), _config(tmp_path / "straight", save_steps=2))

    tok, model = _model_with_molora()
    config = _config(tmp_path / "crashed", save_steps=2)
    with pytest.raises(_Crash):
        train_stages(model, tok, stages([_CrashAfterSave(4)]), config)
    tok, resumed_model = _model_with_molora()  # a new process: fresh model, same call
    results = train_stages(resumed_model, tok, stages([]), config)
    assert results[0].resumed and results[0].global_step == 6
    for (name, a), (_, b) in zip(straight.named_parameters(), resumed_model.named_parameters()):
        assert torch.equal(a, b), name


@pytest.mark.slow
def test_same_code_runs_as_two_process_ddp_under_accelerate(tmp_path) -> None:
    """Two CPU processes over gloo: `ACCELERATE_USE_CPU=true accelerate launch --multi_gpu --num_processes 2`
    (accelerate's `--cpu` flag alone starts a single process). Both ranks train, stay in sync, halve the steps."""
    import os
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).with_name("ddp_train.py")
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port",
               "29517", str(script), str(tmp_path)]
    env = {**os.environ, "ACCELERATE_USE_CPU": "true"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert all(r["world_size"] == 2 for r in ranks)
    assert ranks[0]["checksum"] == ranks[1]["checksum"]  # DDP keeps the replicas identical
    assert ranks[0]["global_step"] == 2  # 8 examples / (2 per device x 2 processes)
    assert (tmp_path / "run" / "00-ddp" / "stage_done.json").is_file()
