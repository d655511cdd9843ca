"""Training a student on the shared trainer: LoRA on every linear, one trainer stage per curriculum stage,
each stage starting from the previous stage's weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tooltune.methods.internalize.config import CurriculumConfig, StudentTraining
from tooltune.methods.internalize.errors import InternalizeError
from tooltune.train.settings import begin_run, check_run_dir

OWNED = ("stage_samples.json", "skintern", "std_cot", "no_profile", "eval", "report.json", "table.txt",
         "answers.jsonl")
"""What an experiment writes in its output directory besides settings.json (all that --overwrite removes)."""


def experiment_key(config: CurriculumConfig, student: str | None = None) -> dict[str, Any]:
    """What an experiment's trained stages depend on: the experiment, the student and every setting."""
    return {"experiment": type(config).__name__, "student": student, **config.model_dump(exclude={"output_dir"})}


def check_experiment_dir(config: CurriculumConfig, student: str | None = None, overwrite: bool = False) -> bool:
    """Refuse (RunDirError naming the fields) an output directory holding another experiment's stages; True
    when resuming one of the same settings. Writes nothing."""
    return check_run_dir(config.output_dir, experiment_key(config, student), owned=OWNED, overwrite=overwrite)


def begin_experiment(config: CurriculumConfig, student: str | None = None, overwrite: bool = False) -> Path:
    """Check the output directory, start afresh there when asked, save the settings; returns the directory."""
    begin_run(config.output_dir, experiment_key(config, student), owned=OWNED, overwrite=overwrite)
    return Path(config.output_dir)


def add_lora(model: Any, knobs: StudentTraining) -> list[str]:
    """Wrap every attention and MLP linear with LoRA (initialised from the seed) and freeze everything else."""
    from tooltune.adapters import TARGET_MODULES, LoRAConfig, inject_adapters, mark_only_adapters_trainable

    wrapped = inject_adapters(model, LoRAConfig(target_modules=list(TARGET_MODULES), r=knobs.lora_r, alpha=knobs.lora_alpha),
                              seed=knobs.seed)
    mark_only_adapters_trainable(model)
    return wrapped


def train_curriculum(
    model: Any,
    tokenizer: Any,
    datasets: list[list[dict]],
    epochs: list[float],
    knobs: StudentTraining,
    output_dir: str | Path,
    *,
    names: list[str] | None = None,
) -> list:
    """Run `datasets[t]` for `epochs[t]` epochs in order (resumable), then save the adapter to output_dir/adapter."""
    from tooltune.adapters import save_adapter
    from tooltune.train import Stage, TrainConfig, train_stages

    if len(datasets) != len(epochs):
        raise ValueError(f"epochs: need one per stage ({len(datasets)}), got {len(epochs)}")
    names = names or [f"stage{t}" for t in range(len(datasets))]
    stages = [Stage(name=n, examples=d, epochs=e) for n, d, e in zip(names, datasets, epochs)]
    config = TrainConfig(
        output_dir=str(output_dir),
        learning_rate=knobs.learning_rate,
        batch_size=knobs.batch_size,
        max_length=knobs.max_length,
        seed=knobs.seed,
        logging_steps=5,
        disable_tqdm=False,
    )
    results = train_stages(model, tokenizer, stages, config)
    save_adapter(model, Path(output_dir) / "adapter", metadata={"method": "internalize"})
    return results


def student_loader(spec: str = "smollm2") -> Any:
    """A callable returning a fresh (model, tokenizer) each call: `smollm2` (embedded) or a checkpoint directory.
    A spec that is neither is refused at once, before anything is loaded."""
    embedded = spec.strip().lower() == "smollm2"
    path = Path(spec).expanduser()
    if not embedded and not (path / "config.json").is_file():
        raise InternalizeError(f"student: expected 'smollm2' or a Hugging Face checkpoint directory, got {spec!r}")

    def load() -> tuple[Any, Any]:
        import torch

        from tooltune.models.registry import load_trainable

        torch.manual_seed(0)
        return load_trainable(spec)

    return load
