"""Training a student on the shared trainer: LoRA on every linear, one trainer stage per curriculum stage,
each stage starting from the previous stage's weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tooltune.adapters import LoRAConfig
from tooltune.methods.internalize.config import CurriculumConfig
from tooltune.methods.internalize.errors import InternalizeError
from tooltune.train.settings import begin_run, check_run_dir
from tooltune.train.trainer import TrainConfig

OWNED = ("stage_samples.json", "skintern", "std_cot", "no_profile", "eval", "report.json", "table.txt",
         "answers.jsonl")
"""What an experiment writes in its output directory besides settings.json (all that --overwrite removes)."""


def experiment_key(config: CurriculumConfig, student: str | None = None) -> dict[str, Any]:
    """What an experiment's trained stages depend on: the experiment, the student and every setting. Of the
    trainer's config only the fields the experiment or the user set count, so that a knob the shared trainer
    gains later (at its default) does not make earlier run directories look like other settings."""
    train = config.train.model_dump(exclude_unset=True, exclude={"output_dir"})
    return {"experiment": type(config).__name__, "student": student, **config.model_dump(exclude={"train"}),
            "train": train}


def check_experiment_dir(config: CurriculumConfig, student: str | None = None, overwrite: bool = False) -> bool:
    """Refuse (RunDirError naming the fields) an output directory holding another experiment's stages; True
    when resuming one of the same settings. Writes nothing."""
    return check_run_dir(config.output_dir, experiment_key(config, student), owned=OWNED, overwrite=overwrite)


def begin_experiment(config: CurriculumConfig, student: str | None = None, overwrite: bool = False) -> Path:
    """Check the output directory, start afresh there when asked, save the settings; returns the directory."""
    begin_run(config.output_dir, experiment_key(config, student), owned=OWNED, overwrite=overwrite)
    return Path(config.output_dir)


def add_lora(model: Any, lora: LoRAConfig, seed: int = 0) -> list[str]:
    """Wrap the linears `lora` targets (initialised from the seed) and freeze everything else."""
    from tooltune.adapters import inject_adapters, mark_only_adapters_trainable

    wrapped = inject_adapters(model, lora, seed=seed)
    mark_only_adapters_trainable(model)
    return wrapped


def train_curriculum(model: Any, tokenizer: Any, datasets: list[list[dict]], epochs: list[float], train: TrainConfig,
                     *, names: list[str] | None = None, metadata: dict[str, Any] | None = None) -> list:
    """Run `datasets[t]` for `epochs[t]` epochs in order in `train.output_dir` (resumable), then save the
    adapter to its `adapter` folder (`metadata` recorded beside it, e.g. the user whose profile it holds)."""
    from tooltune.adapters import save_adapter
    from tooltune.train import Stage, train_stages

    if len(datasets) != len(epochs):
        raise ValueError(f"epochs: need one per stage ({len(datasets)}), got {len(epochs)}")
    names = names or [f"stage{t}" for t in range(len(datasets))]
    stages = [Stage(name=n, examples=d, epochs=e) for n, d, e in zip(names, datasets, epochs)]
    results = train_stages(model, tokenizer, stages, train)
    save_adapter(model, Path(train.output_dir) / "adapter", metadata={"method": "internalize", **(metadata or {})})
    return results


def train_staged(model: Any, tokenizer: Any, datasets: list[list[dict]], config: CurriculumConfig,
                 *, examples: int = 0, metadata: dict[str, Any] | None = None) -> list:
    """The SKIntern student: LoRA added, one trainer stage per curriculum stage, in output_dir/skintern."""
    plans = config.schedule(examples).plans()
    add_lora(model, config.lora, config.seed)
    return train_curriculum(model, tokenizer, datasets, [p.epochs for p in plans], config.train_config("skintern"),
                            names=[f"S{p.index}-{p.keep_ratio:.2f}" for p in plans], metadata=metadata)


def train_baseline(model: Any, tokenizer: Any, dataset: list[dict], config: CurriculumConfig, subdir: str) -> list:
    """A baseline student: LoRA added, the same E epochs in all on one dataset, in output_dir/subdir."""
    add_lora(model, config.lora, config.seed)
    return train_curriculum(model, tokenizer, [dataset], [config.total_epochs], config.train_config(subdir),
                            names=[subdir.replace("_", "-")])


def student_loader(spec: str = "smollm2", adapter: str | Path | None = None) -> Any:
    """A callable returning a fresh (model, tokenizer) each call: `smollm2` (embedded) or a checkpoint directory,
    with `adapter` (e.g. the agent recipe's tuned agent) merged into its weights when given, so that the
    student starts from it. A spec or adapter that is neither is refused at once, before anything is loaded."""
    embedded = spec.strip().lower() == "smollm2"
    path = Path(spec).expanduser()
    if not embedded and not (path / "config.json").is_file():
        raise InternalizeError(f"student: expected 'smollm2' or a Hugging Face checkpoint directory, got {spec!r}")
    from tooltune.adapters.io import CONFIG_NAME

    if adapter is not None and not (Path(adapter) / CONFIG_NAME).is_file():
        raise InternalizeError(f"student_adapter: {adapter} is not an adapter directory (no {CONFIG_NAME})")

    def load() -> tuple[Any, Any]:
        import torch

        from tooltune.models.hf_local import attach_adapter
        from tooltune.models.registry import load_trainable

        torch.manual_seed(0)
        model, tokenizer = load_trainable(spec)
        if adapter is not None:
            from tooltune.adapters.model import adapter_modules

            model = attach_adapter(model, adapter, merge=True)
            if adapter_modules(model):
                raise InternalizeError(f"student_adapter: {adapter} is not a LoRA that can be merged into the student")
        return model, tokenizer

    return load
