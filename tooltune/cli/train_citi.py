"""`tooltune train citi`: CITI, with base / LoRA / full fine-tuning as baselines through the same command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

METHOD_HELP = "citi | lora | full | base, or several separated by commas (compared in one table), or 'all'"
OPTIONS = {"epochs": "--epochs", "adapter_lr": "--lr", "full_lr": "--full-lr", "lora_r": "--lora-rank",
           "lora_alpha": "--lora-alpha", "batch_size": "--batch-size", "grad_accum": "--grad-accum",
           "max_length": "--max-length", "eval_max_new_tokens": "--max-new-tokens", "cloze_items": "--cloze-items",
           "retention_windows": "--retention-windows", "num_experts": "--experts", "r": "--rank", "alpha": "--alpha",
           "top_k": "--top-k", "top_fraction": "--top-fraction", "full_fraction": "--full-fraction",
           "importance_batches": "--importance-batches", "importance_aggregate": "--importance-aggregate",
           "stage_learning_rates": "--lr/--full-lr"}
"""Command-line option of each settings field, for errors that name what the user typed."""


def citi(
    data: Path = typer.Option(..., "--data", exists=True, dir_okay=False, help="Training SFT JSONL ({messages, tools})."),
    eval_data: Optional[Path] = typer.Option(None, "--eval-data", exists=True, dir_okay=False,
                                             help="Held-out SFT JSONL for tool-call accuracy (default: the last "
                                                  "--eval-size examples of --data, not trained on)."),
    out: Path = typer.Option(Path("runs/citi"), "--out", help="Output directory; rerunning with the same options "
                             "resumes, with other options is refused (see --overwrite)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Remove an earlier comparison's results in --out and "
                                   "start afresh (instead of refusing other options)."),
    model: str = typer.Option("smollm2", "--model", "-m", help="smollm2 (embedded) | PATH to a HF checkpoint."),
    method: str = typer.Option("citi", "--method", help=METHOD_HELP),
    eval_size: int = typer.Option(16, "--eval-size", min=1, help="Held-out examples taken from --data when no "
                                  "--eval-data is given."),
    max_train: Optional[int] = typer.Option(None, "--max-train", min=1, help="Train on a seeded random subset of "
                                            "this many examples."),
    max_eval: Optional[int] = typer.Option(None, "--max-eval", min=1, help="Score a seeded random subset of this "
                                           "many held-out examples."),
    calls_per_example: int = typer.Option(0, "--calls-per-example", min=0, help="Cut every conversation after its "
                                          "first N tool-calling turns (short rows; 0 keeps whole conversations)."),
    epochs: float = typer.Option(3.0, "--epochs", min=0.01, help="Epochs of LoRA / full FT, and of CITI's MoLoRA "
                                 "stages together (1/3 + 2/3, as the release's 1 + 2)."),
    lr: float = typer.Option(2e-4, "--lr", min=0.0, help="Learning rate of LoRA and MoLoRA."),
    full_lr: float = typer.Option(2e-5, "--full-lr", min=0.0, help="Learning rate of full FT and CITI's last stage."),
    batch_size: int = typer.Option(4, "--batch-size", min=1),
    grad_accum: int = typer.Option(1, "--grad-accum", min=1),
    max_length: int = typer.Option(512, "--max-length", min=16, help="Token limit per training example."),
    experts: int = typer.Option(4, "--experts", min=1, help="MoLoRA experts."),
    rank: int = typer.Option(8, "--rank", min=1, help="MoLoRA rank per expert (LoRA baseline: --lora-rank)."),
    alpha: float = typer.Option(2.0, "--alpha", min=0.0, help="MoLoRA alpha."),
    top_k: Optional[int] = typer.Option(None, "--top-k", min=1, help="MoLoRA top-k routing (default dense)."),
    lora_rank: int = typer.Option(8, "--lora-rank", min=1),
    lora_alpha: float = typer.Option(16.0, "--lora-alpha", min=0.0),
    top_fraction: float = typer.Option(0.2, "--top-fraction", min=0.0, max=1.0, help="Share of components with MoLoRA."),
    full_fraction: float = typer.Option(0.1, "--full-fraction", min=0.0, max=1.0,
                                        help="Share of down_proj modules tuned in full."),
    importance_batches: int = typer.Option(8, "--importance-batches", min=1),
    importance_aggregate: str = typer.Option("sum", "--importance-aggregate", help="sum | mean of |theta * grad| "
                                             "over a module (mean removes the advantage of large matrices)."),
    max_new_tokens: int = typer.Option(64, "--max-new-tokens", min=1, help="Generation limit when scoring calls."),
    cloze_items: int = typer.Option(60, "--cloze-items", min=1, help="Four-way cloze items for retention."),
    retention_windows: int = typer.Option(8, "--retention-windows", min=1, help="256-token windows of general text."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1),
) -> None:
    """Train with CITI (importance -> plan -> three stages) and/or the baselines, then score tool-call accuracy on
    held-out conversations and retention (perplexity + cloze on Python's documentation, never tool data).

    Example: tooltune train citi --data sft.jsonl --eval-data heldout.jsonl --method all --out runs/citi
    """
    from pydantic import ValidationError

    from tooltune.methods.citi.config import CITISettings, CompareSettings
    from tooltune.methods.citi.experiment import (
        METHODS,
        check_comparison_dir,
        compare_methods,
        load_model_spec,
        prepare_examples,
    )
    from tooltune.errors import RunFailure
    from tooltune.models.base import ModelError
    from tooltune.train.data import SFTDataError, load_sft_jsonl
    from tooltune.train.eval import tool_call_positions
    from tooltune.train.settings import SettingsError, settings_error

    methods = list(METHODS) if method.strip() == "all" else [m.strip() for m in method.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise SettingsError(f"--method: unknown method(s) {bad or method!r}; use {METHOD_HELP}")
    if importance_aggregate not in ("sum", "mean"):
        raise SettingsError(f"--importance-aggregate: use sum or mean, got {importance_aggregate!r}")
    try:
        citi_settings = CITISettings(num_experts=experts, r=rank, alpha=alpha, top_k=top_k, top_fraction=top_fraction,
                                     full_fraction=full_fraction, importance_batches=importance_batches,
                                     importance_aggregate=importance_aggregate,
                                     stage_learning_rates=(lr, lr, full_lr))
        settings = CompareSettings(epochs=epochs, adapter_lr=lr, full_lr=full_lr, lora_r=lora_rank,
                                   lora_alpha=lora_alpha, batch_size=batch_size, grad_accum=grad_accum,
                                   max_length=max_length, seed=seed, eval_max_new_tokens=max_new_tokens,
                                   cloze_items=cloze_items, retention_windows=retention_windows, citi=citi_settings)
    except ValidationError as exc:
        raise settings_error(exc, OPTIONS) from exc
    examples = load_sft_jsonl(data)
    evaluation = load_sft_jsonl(eval_data) if eval_data is not None else None
    if evaluation is not None:
        train, held_out = examples, evaluation
    else:
        if eval_size >= len(examples):
            raise SettingsError(f"--eval-size: {data} has only {len(examples)} examples, so holding out {eval_size} "
                                "leaves none to train on (lower --eval-size or give --eval-data)")
        train, held_out = examples[:-eval_size], examples[-eval_size:]
    train = prepare_examples(train, calls_per_example, max_train, seed)
    held_out = prepare_examples(held_out, calls_per_example, max_eval, seed + 1)
    cut = f" after --calls-per-example {calls_per_example}" if calls_per_example else ""
    if not train:
        raise SFTDataError(f"{data}: no training example is left{cut} (examples without enough tool calls are "
                           "dropped)")
    if not tool_call_positions(held_out):
        raise SFTDataError(f"{eval_data or data}: the held-out examples{cut} have no assistant turn with tool_calls "
                           "to score")
    check_comparison_dir(out, settings, train, held_out, model, overwrite)
    typer.echo(f"training on {len(train)} examples, scoring {len(held_out)} held-out examples: {', '.join(methods)}")
    try:
        rows = compare_methods(methods, load_model_spec(model), train, held_out, out, settings, model=model,
                               overwrite=overwrite)
    except ModelError as exc:
        raise RunFailure(f"--model: {exc}") from exc
    typer.echo((out / "table.md").read_text())
    typer.echo(json.dumps([{k: r[k] for k in ("method", "exact_accuracy", "general_perplexity")} for r in rows]))


def register(app: typer.Typer) -> None:
    """Add the `citi` command to the `train` app."""
    app.command("citi")(citi)
