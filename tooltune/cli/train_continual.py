"""`tooltune train continual`: learn a sequence of tasks with DATA or a baseline and print the CL metrics."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from tooltune.adapters.config import TARGET_MODULES
from tooltune.adapters.dual_rank import DualRankConfig
from tooltune.methods.continual.config import METHOD_NAMES, continual_training

METHOD_HELP = f"{' | '.join(METHOD_NAMES)}, or several separated by commas (compared in one table)"
_TRAIN, _DATA = continual_training(), DualRankConfig()  # the defaults shown below live in these configs

OPTIONS = {"epochs": "--epochs", "learning_rate": "--lr", "batch_size": "--batch-size", "max_length": "--max-length",
           "target_modules": "--target-modules", "top_layers": "--top-layers", "r": "--lora-rank",
           "rank_low": "--rank-low", "rank_high": "--rank-high", "rows_per_task": "--rows-per-task",
           "orthogonality_weight": "--orthogonality-weight", "restoration_rate": "--restoration-rate",
           "restoration_period": "--restoration-period", "layers_per_group": "--layers-per-group"}
"""Command-line option of each config field, for errors that name what the user typed."""

Tasks = Annotated[str, typer.Option("--tasks", help="Comma-separated SFT JSONL files, one task each, in training order "
                                    "(with --cl-benchmark: task names such as dbpedia,amazon,agnews,yelp).")]
Model = Annotated[str, typer.Option("--model", "-m", help="smollm2 (embedded) | PATH to a HF checkpoint.")]
Method = Annotated[str, typer.Option("--method", help=METHOD_HELP)]
OutputDir = Annotated[Path, typer.Option("--output-dir", help="Stages, scores and adapters go here; rerunning with "
                                         "the same directory and options resumes (with another --scorer: only "
                                         "rescores); other options are refused (see --overwrite).")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Remove the methods' earlier stages and scores in "
                                         "--output-dir and start afresh (instead of refusing other options).")]
ClBenchmark = Annotated[Optional[Path], typer.Option("--cl-benchmark", help="An O-LoRA CL_Benchmark release: the "
                                                     "folder holding CL_Benchmark/ and configs/.")]
TestTasks = Annotated[Optional[str], typer.Option("--test-tasks", help="Comma-separated held-out JSONL files, one per "
                                                  "task in the same order (default: hold out --test-size of each file).")]
TestSize = Annotated[int, typer.Option("--test-size", min=1, help="Held-out examples per task.")]
FirstCallOnly = Annotated[bool, typer.Option("--first-call-only", help="Cut every conversation after its first tool "
                                             "call (one tool-calling turn per example: shorter, cheaper).")]
TopLayers = Annotated[Optional[int], typer.Option("--top-layers", min=1, help="Adapt only the last N decoder layers.")]
MaxTrain = Annotated[Optional[int], typer.Option("--max-train", min=1, help="At most this many training examples per task.")]
Scorer = Annotated[str, typer.Option("--scorer", help="tool-call (generate, compare name+arguments) | greedy (assistant "
                                     "turns reproduced verbatim, one forward pass) | token (share of assistant tokens "
                                     "predicted) | auto (tool-call if the held-out data has tool calls, else greedy).")]
MaxNewTokens = Annotated[int, typer.Option("--max-new-tokens", min=1, help="Generation limit of the tool-call scorer.")]
Epochs = Annotated[float, typer.Option("--epochs", min=0.01, help="Epochs per task.")]
LearningRate = Annotated[float, typer.Option("--lr", min=0.0, help="Learning rate.")]
BatchSize = Annotated[int, typer.Option("--batch-size", min=1)]
MaxLength = Annotated[int, typer.Option("--max-length", min=8, help="Token limit per example.")]
Seed = Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Every random initialisation and the data order.")]
Bf16 = Annotated[bool, typer.Option("--bf16", help="Train under bf16 autocast (CPUs with AVX512-BF16/AMX, or GPUs).")]
TargetModules = Annotated[str, typer.Option("--target-modules", help="Comma-separated linears to adapt.")]
RankLow = Annotated[int, typer.Option("--rank-low", min=1, help="DATA: shared low-rank adapter rank.")]
RankHigh = Annotated[int, typer.Option("--rank-high", min=1, help="DATA: task-specific high-rank adapter rank.")]
RowsPerTask = Annotated[int, typer.Option("--rows-per-task", min=1, help="DATA: router rows (K, A, W) added per task.")]
LayersPerGroup = Annotated[int, typer.Option("--layers-per-group", min=1, help="DATA: adapted layers sharing one router group.")]
PerToken = Annotated[bool, typer.Option("--per-token", help="DATA: adapter weights per token instead of per sequence.")]
OrthoWeight = Annotated[float, typer.Option("--orthogonality-weight", min=0.0, help="DATA: weight of the orthogonality loss.")]
RestoreRate = Annotated[float, typer.Option("--restoration-rate", min=0.0, max=1.0)]
RestorePeriod = Annotated[int, typer.Option("--restoration-period", min=1, help="Optimizer steps between restorations.")]
LoraRank = Annotated[Optional[int], typer.Option("--lora-rank", min=1, help="SeqLoRA / multitask rank (default 20) and "
                                                 "O-LoRA rank per task (default 8); alpha = 2 x rank.")]
SingleTask = Annotated[bool, typer.Option("--single-task", help="Also train each task alone, for FWT.")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Print the task order, counts and one prompt per task; load no model.")]
JsonOut = Annotated[Optional[Path], typer.Option("--json", help="Write matrices and metrics as JSON here.")]


def comma_list(value: str) -> list[str]:
    """The non-empty items of a comma-separated option."""
    return [v.strip() for v in value.split(",") if v.strip()]


def continual(
    tasks: Tasks, model: Model = "smollm2", method: Method = "data", output_dir: OutputDir = Path("runs/continual"),
    overwrite: Overwrite = False, cl_benchmark: ClBenchmark = None, test_tasks: TestTasks = None,
    test_size: TestSize = 8, first_call_only: FirstCallOnly = False, top_layers: TopLayers = None,
    max_train: MaxTrain = None, scorer: Scorer = "auto", max_new_tokens: MaxNewTokens = 96,
    epochs: Epochs = _TRAIN.epochs, learning_rate: LearningRate = _TRAIN.learning_rate,
    batch_size: BatchSize = _TRAIN.batch_size, max_length: MaxLength = _TRAIN.max_length, seed: Seed = _TRAIN.seed,
    bf16: Bf16 = False, target_modules: TargetModules = ",".join(TARGET_MODULES), rank_low: RankLow = _DATA.rank_low,
    rank_high: RankHigh = _DATA.rank_high, rows_per_task: RowsPerTask = _DATA.rows_per_task,
    layers_per_group: LayersPerGroup = _DATA.layers_per_group, per_token: PerToken = _DATA.per_token,
    orthogonality_weight: OrthoWeight = _DATA.orthogonality_weight,
    restoration_rate: RestoreRate = _DATA.restoration_rate, restoration_period: RestorePeriod = _DATA.restoration_period,
    lora_rank: LoraRank = None, olora_rank: Annotated[Optional[int], typer.Option("--olora-rank", min=1)] = None,
    single_task: SingleTask = False, dry_run: DryRun = False, json_out: JsonOut = None,
) -> None:
    """Train the tasks in order, score every task after each stage, print the accuracy matrix and AP/F.Ra/BWT/FWT.

    Inference needs no task id for any method. Example:
    tooltune train continual --cl-benchmark ../shared/cl_benchmark --tasks dbpedia,amazon,agnews,yelp --method data,seqlora
    """
    options = {k: v for k, v in locals().items()}
    from tooltune.methods.continual import describe_tasks

    configs = _configs(options)
    task_list = _load_tasks(options)
    if dry_run:
        typer.echo(describe_tasks(task_list))
        return
    scorer_name, results = _run(options, task_list, configs)
    from tooltune.methods.continual import format_results

    typer.echo(f"scorer: {scorer_name}; tasks: {', '.join(t.name for t in task_list)} "
               f"(train {[len(t.train) for t in task_list]}, test {[len(t.test) for t in task_list]})")
    typer.echo(format_results(results))
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps({"scorer": scorer_name, "results": [r.as_dict() for r in results]}, indent=2) + "\n")


def _load_tasks(o: dict[str, Any]) -> list:
    """The task sequence from CL_Benchmark task names or SFT JSONL files."""
    from tooltune.methods.continual import ContinualTask, load_task_files
    from tooltune.methods.continual.cl_benchmark import load_cl_task
    from tooltune.train.settings import SettingsError

    names = comma_list(o["tasks"])
    if not names:
        raise SettingsError("--tasks: name at least one task")
    if o["cl_benchmark"] is not None:
        return [ContinualTask(n, load_cl_task(o["cl_benchmark"], n, "train", o["max_train"]),
                              load_cl_task(o["cl_benchmark"], n, "test", o["test_size"])) for n in names]
    test_names = comma_list(o["test_tasks"]) if o["test_tasks"] else None
    missing = [n for n in names + (test_names or []) if not Path(n).is_file()]
    if missing:
        raise SettingsError(f"--tasks/--test-tasks: no such task file(s): {missing}")
    return load_task_files(names, o["test_size"], o["seed"], o["max_train"], test_names, o["first_call_only"])


def _configs(o: dict[str, Any]) -> list:
    """One ContinualConfig per --method, composed from the trainer's and the adapter's configs."""
    from pydantic import ValidationError

    from tooltune.methods.continual import METHODS, ContinualConfig
    from tooltune.train.settings import SettingsError, settings_error

    methods, targets = comma_list(o["method"]), comma_list(o["target_modules"])
    bad = [m for m in methods if m not in METHODS]
    if not methods or bad:
        raise SettingsError(f"--method: unknown method(s) {bad or o['method']!r}; expected {METHOD_HELP}")
    if not targets:
        raise SettingsError("--target-modules: name at least one module (e.g. q_proj,v_proj)")
    try:
        train = continual_training(epochs=o["epochs"], learning_rate=o["learning_rate"], batch_size=o["batch_size"],
                                   max_length=o["max_length"], seed=o["seed"], bf16=o["bf16"])
        adapters = {"data": DualRankConfig(target_modules=targets, **{k: o[k] for k in _DATA_FIELDS}),
                    "seqlora": _lora(METHODS["seqlora"].default_adapter(), targets, o["lora_rank"]),
                    "olora": _lora(METHODS["olora"].default_adapter(), targets, o["olora_rank"])}
        adapters["multitask"] = adapters["seqlora"]
        return [ContinualConfig(method=m, output_dir=str(o["output_dir"]), base_model=o["model"], train=train,
                                adapter=adapters[m], single_task=o["single_task"], top_layers=o["top_layers"])
                for m in methods]
    except (ValidationError, ValueError) as exc:
        raise settings_error(exc, OPTIONS) from exc


_DATA_FIELDS = ("rank_low", "rank_high", "rows_per_task", "layers_per_group", "per_token", "orthogonality_weight",
                "restoration_rate", "restoration_period")


def _lora(default: Any, targets: list[str], rank: int | None) -> Any:
    """A method's default LoRA-like adapter on `targets`, at `rank` (alpha = 2 x rank) when one is given."""
    changes: dict[str, Any] = {"target_modules": targets}
    if rank is not None:
        changes.update(r=rank, alpha=2.0 * rank)
    return dataclasses.replace(default, **changes)


def _run(o: dict[str, Any], tasks: list, configs: list) -> tuple[str, list]:
    """Check every directory, then run each method with a progress bar fed by structured events."""
    from tqdm.auto import tqdm

    from tooltune.methods.continual import METHODS, ContinualRun, Progress, run_continual
    from tooltune.models.base import ModelError
    from tooltune.models.registry import load_trainable
    from tooltune.train.settings import check_creatable

    if o["json_out"] is not None:
        check_creatable(o["json_out"], directory=False)
    run = ContinualRun(tasks, configs, o["scorer"], o["max_new_tokens"], o["overwrite"])
    total = sum(1 if METHODS[c.method].one_stage else len(tasks) for c in configs)
    bars: list = []  # opened at the first event, after the first model has loaded

    def progress(event: Progress) -> None:
        if not bars:
            bars.append(tqdm(total=total, desc="continual stages", unit="stage"))
        if event.event == "train":
            bars[0].write(f"[{event.method}] training on {event.stage} ({event.examples} examples)")
        elif event.event == "single":
            bars[0].write(f"[{event.method}] single-task reference: {event.stage}")
        elif event.event == "scored":
            bars[0].write(f"[{event.method}] after {event.stage}: " + " ".join(f"{s:.3f}" for s in event.scores))
            bars[0].update(1)

    try:
        return run_continual(lambda: load_trainable(o["model"]), run, progress)
    except ModelError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        for bar in bars:
            bar.close()


def register(app: typer.Typer) -> None:
    """Add the `continual` command to the `train` app."""
    app.command("continual")(continual)
    app.command("continual-summary")(continual_summary)


Reference = Annotated[str, typer.Option(help="The method the others are paired with, order by order.")]


def continual_summary(files: Annotated[list[Path], typer.Argument(help="`train continual --json` files; results "
                                                                    "are grouped by their task order.")],
                      reference: Reference = "seqlora") -> None:
    """Mean ± standard error over task orders of AP, F.Ra, BWT and FWT per method, and each method's paired
    difference from --reference (the same order is the pair)."""
    from tooltune.methods.continual.summary import read_results, summarize, summary_table

    summary = summarize(read_results(files), reference)
    for order in summary["orders"]:
        typer.echo("order: " + " -> ".join(order))
    typer.echo(summary_table(summary))
