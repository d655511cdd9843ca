"""`tooltune train continual`: learn a sequence of tasks with DATA or a baseline and print the CL metrics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

METHOD_HELP = "data | seqlora | olora | multitask, or several separated by commas (compared in one table)"


OPTIONS = {"epochs": "--epochs", "learning_rate": "--lr", "batch_size": "--batch-size", "max_length": "--max-length",
           "target_modules": "--target-modules", "top_layers": "--top-layers", "lora_rank": "--lora-rank",
           "olora_rank": "--olora-rank", "rank_low": "--rank-low", "rank_high": "--rank-high",
           "rows_per_task": "--rows-per-task", "orthogonality_weight": "--orthogonality-weight",
           "restoration_rate": "--restoration-rate", "restoration_period": "--restoration-period"}
"""Command-line option of each ContinualConfig field, for errors that name what the user typed."""


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def continual(
    tasks: str = typer.Option(..., "--tasks", help="Comma-separated SFT JSONL files, one task each, in training order "
                              "(with --cl-benchmark: task names such as agnews,amazon,yahoo,dbpedia)."),
    model: str = typer.Option("smollm2", "--model", "-m", help="smollm2 (embedded) | PATH to a HF checkpoint."),
    method: str = typer.Option("data", "--method", help=METHOD_HELP),
    output_dir: Path = typer.Option(Path("runs/continual"), "--output-dir", help="Stages, scores and adapters go here; "
                                    "rerunning with the same directory and options resumes (with another --scorer: "
                                    "only rescores); other options are refused (see --overwrite)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Remove the methods' earlier stages and scores in "
                                   "--output-dir and start afresh (instead of refusing other options)."),
    cl_benchmark: Optional[Path] = typer.Option(None, "--cl-benchmark", help="Root of an O-LoRA CL_Benchmark folder."),
    test_tasks: Optional[str] = typer.Option(None, "--test-tasks", help="Comma-separated held-out JSONL files, one "
                                             "per task in the same order (default: hold out --test-size of each task file)."),
    test_size: int = typer.Option(8, "--test-size", min=1, help="Held-out examples per task."),
    first_call_only: bool = typer.Option(False, "--first-call-only", help="Cut every conversation after its first "
                                         "tool call (one tool-calling turn per example: shorter, cheaper)."),
    top_layers: Optional[int] = typer.Option(None, "--top-layers", min=1, help="Adapt only the last N decoder layers "
                                             "(cheaper backward pass)."),
    max_train: Optional[int] = typer.Option(None, "--max-train", min=1, help="Use at most this many training examples per task."),
    scorer: str = typer.Option("auto", "--scorer", help="tool-call (generate, compare name+arguments) | greedy "
                               "(assistant turns reproduced verbatim, one forward pass) | token (share of "
                               "assistant tokens predicted, one forward pass) | auto (tool-call if the held-out "
                               "data has tool calls, else greedy)."),
    max_new_tokens: int = typer.Option(96, "--max-new-tokens", min=1, help="Generation limit of the tool-call scorer."),
    epochs: float = typer.Option(1.0, "--epochs", min=0.01, help="Epochs per task."),
    learning_rate: float = typer.Option(1e-4, "--lr", min=0.0, help="Learning rate."),
    batch_size: int = typer.Option(4, "--batch-size", min=1),
    max_length: int = typer.Option(1024, "--max-length", min=8, help="Token limit per example."),
    seed: int = typer.Option(0, "--seed", min=0, max=2**32 - 1),
    target_modules: str = typer.Option("q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", "--target-modules"),
    rank_low: int = typer.Option(4, "--rank-low", min=1, help="DATA: shared low-rank adapter rank."),
    rank_high: int = typer.Option(16, "--rank-high", min=1, help="DATA: task-specific high-rank adapter rank."),
    rows_per_task: int = typer.Option(8, "--rows-per-task", min=1, help="DATA: attention rows added per task."),
    per_token: bool = typer.Option(False, "--per-token", help="DATA: adapter weights per token instead of per sequence."),
    orthogonality_weight: float = typer.Option(1.0, "--orthogonality-weight", min=0.0),
    restoration_rate: float = typer.Option(0.01, "--restoration-rate", min=0.0, max=1.0),
    restoration_period: int = typer.Option(10, "--restoration-period", min=1, help="Optimizer steps between restorations."),
    lora_rank: int = typer.Option(20, "--lora-rank", min=1, help="SeqLoRA / multitask rank."),
    olora_rank: int = typer.Option(8, "--olora-rank", min=1, help="O-LoRA rank per task."),
    single_task: bool = typer.Option(False, "--single-task", help="Also train each task alone, for FWT."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write matrices and metrics as JSON here."),
) -> None:
    """Train the tasks in order, score every task after each stage, print the accuracy matrix and AP/F.Ra/BWT/FWT.

    Inference needs no task id for any method. Example:
    tooltune train continual --tasks calendar.jsonl,email.jsonl,music.jsonl,shopping.jsonl --method data,seqlora,multitask
    """
    from pydantic import ValidationError
    from tqdm.auto import tqdm

    from tooltune.methods import continual as cl
    from tooltune.methods.continual.cl_benchmark import load_cl_task
    from tooltune.models.base import ModelError
    from tooltune.models.registry import load_trainable
    from tooltune.train.settings import SettingsError, check_creatable, settings_error

    methods = _split(method)
    bad = [m for m in methods if m not in cl.METHODS]
    if not methods or bad:
        raise SettingsError(f"--method: unknown method(s) {bad or method!r}; expected {METHOD_HELP}")
    if scorer not in ("auto", "tool-call", "greedy", "token"):
        raise SettingsError(f"--scorer: expected tool-call, greedy, token or auto, got {scorer!r}")
    if not _split(target_modules):
        raise SettingsError("--target-modules: name at least one module (e.g. q_proj,v_proj)")
    if json_out is not None:
        check_creatable(json_out, directory=False)
    try:
        configs = [cl.ContinualConfig(
            method=name, output_dir=str(output_dir), base_model=model, epochs=epochs, learning_rate=learning_rate,
            batch_size=batch_size, max_length=max_length, seed=seed, target_modules=_split(target_modules),
            top_layers=top_layers,
            lora_rank=lora_rank, olora_rank=olora_rank, rank_low=rank_low, rank_high=rank_high,
            rows_per_task=rows_per_task, per_token=per_token, orthogonality_weight=orthogonality_weight,
            restoration_rate=restoration_rate, restoration_period=restoration_period, single_task=single_task,
        ) for name in methods]
    except ValidationError as exc:
        raise settings_error(exc, OPTIONS) from exc
    names = _split(tasks)
    if not names:
        raise SettingsError("--tasks: name at least one task")
    if cl_benchmark is not None:
        task_list = [cl.ContinualTask(n, load_cl_task(cl_benchmark, n, "train", max_train),
                                      load_cl_task(cl_benchmark, n, "test", test_size)) for n in names]
    else:
        test_names = _split(test_tasks) if test_tasks else None
        missing = [n for n in names + (test_names or []) if not Path(n).is_file()]
        if missing:
            raise SettingsError(f"--tasks/--test-tasks: no such task file(s): {missing}")
        task_list = cl.load_task_files(names, test_size, seed, max_train, test_names, first_call_only)
    if scorer == "auto":
        has_calls = all(any(m.get("tool_calls") for ex in t.test for m in ex["messages"]) for t in task_list)
        scorer = "tool-call" if has_calls else "greedy"
    score = (cl.tool_call_scorer(max_new_tokens=max_new_tokens) if scorer == "tool-call"
             else cl.teacher_forced_scorer(scorer, max_length))
    scorer_settings = {"max_new_tokens": max_new_tokens} if scorer == "tool-call" else {"max_length": max_length}
    for config in configs:  # every directory is checked before any method trains
        cl.check_continual_dirs(config, task_list, scorer, scorer_settings, overwrite)
    stages_per_method = [1 if m == "multitask" else len(task_list) for m in methods]
    bars: list = []  # opened at the first message, after the first model has loaded

    def progress(message: str) -> None:
        if not bars:
            bars.append(tqdm(total=sum(stages_per_method), desc="continual stages", unit="stage"))
        bar = bars[0]
        bar.write(message)
        if message.split("] ", 1)[-1].startswith("after "):
            bar.update(1)

    try:  # every method (and single-task reference) starts from the untouched base
        results = [cl.run_sequence(lambda: load_trainable(model), task_list, config, score, progress,
                                   scorer_name=scorer, scorer_settings=scorer_settings, overwrite=overwrite)
                   for config in configs]
    except ModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    for bar in bars:
        bar.close()
    typer.echo(f"scorer: {scorer}; tasks: {', '.join(t.name for t in task_list)} "
               f"(train {[len(t.train) for t in task_list]}, test {[len(t.test) for t in task_list]})")
    typer.echo(cl.format_results(results))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"scorer": scorer, "results": [r.as_dict() for r in results]}, indent=2) + "\n")


def register(app: typer.Typer) -> None:
    """Add the `continual` command to the `train` app."""
    app.command("continual")(continual)
