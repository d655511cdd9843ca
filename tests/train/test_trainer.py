"""The shared trainer: auxiliary losses, frozen parameters untouched, stage schedules, exact resume."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn
from transformers import TrainerCallback

from tests.train.tiny import tiny_llama, tiny_tokenizer
from tooltune.adapters import MoLoRAConfig, adapter_parameters, inject_adapters
from tooltune.adapters.molora import MoLoRALinear
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
    inject_adapters(model, MoLoRAConfig(target_modules=["q_proj", "down_proj"], num_experts=2, r=2, alpha=4.0,
                                        routing_loss="balance"))  # a loss that needs no sample labels
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
    routers = [m for m in model.modules() if isinstance(m, MoLoRALinear)]
    balance = sum(m.auxiliary_loss() for m in routers)
    assert len(routers) == 4 and float(balance) > 0  # the routers' loss is there, and counted once
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


def _run_twice_with_damaged_marker(tmp_path, damage) -> tuple:
    tok, straight = _model_with_molora()
    train_stages(straight, tok, [Stage("one", EXAMPLES, epochs=1)], _config(tmp_path / "straight"))
    tok, model = _model_with_molora()
    config = _config(tmp_path / "damaged")
    train_stages(model, tok, [Stage("one", EXAMPLES, epochs=1)], config)
    damage(tmp_path / "damaged" / "00-one")
    tok, again = _model_with_molora()
    results = train_stages(again, tok, [Stage("one", EXAMPLES, epochs=1)], config)
    return straight, again, results


@pytest.mark.parametrize("damage", [
    lambda d: (d / "stage_done.json").write_text('{"global_step": 3, "train_lo'),  # cut mid-write
    lambda d: (d / "stage_done.json").write_text('{"train_loss": 1.0}\n'),  # no global_step
    lambda d: (d / "stage_weights.safetensors").write_bytes(b"\x00\x01"),  # weights cut short
])
def test_a_damaged_stage_marker_means_not_done_and_the_stage_runs_again(tmp_path, damage) -> None:
    straight, again, results = _run_twice_with_damaged_marker(tmp_path, damage)
    assert not results[0].skipped and results[0].global_step == 3
    marker = json.loads((tmp_path / "damaged" / "00-one" / "stage_done.json").read_text())
    assert marker["global_step"] == 3
    for (name, a), (_, b) in zip(straight.named_parameters(), again.named_parameters()):
        assert torch.equal(a, b), name


def test_a_crash_while_writing_the_marker_leaves_no_half_written_file(tmp_path, monkeypatch) -> None:
    written = Path.write_text

    def full_disk(self, text, *args, **kwargs):  # writes half, then fails, as a full disk or a kill would
        if "stage_done" in self.name:
            written(self, text[: len(text) // 2], *args, **kwargs)
            raise OSError(28, "No space left on device")
        return written(self, text, *args, **kwargs)

    tok, model = _model_with_molora()
    config = _config(tmp_path)
    monkeypatch.setattr(Path, "write_text", full_disk)
    with pytest.raises(OSError):
        train_stages(model, tok, [Stage("one", EXAMPLES, epochs=1)], config)
    monkeypatch.undo()
    stage = tmp_path / "00-one"
    assert not (stage / "stage_done.json").exists()
    assert [p.name for p in stage.iterdir() if p.name.endswith(".tmp")] == []
    tok, model = _model_with_molora()
    assert train_stages(model, tok, [Stage("one", EXAMPLES, epochs=1)], config)[0].global_step == 3
