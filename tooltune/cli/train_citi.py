"""`tooltune train citi`: CITI, with base / LoRA / full fine-tuning as baselines through the same command.

Each option sets one field of `CompareSettings` (`OPTIONS`); its default is read from there, so a default lives
in one place, and a bad value is reported under the option's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from tooltune.methods.citi.config import CompareSettings

METHOD_HELP = "citi | lora | full | base, or several separated by commas (compared in one table), or 'all'"
D = CompareSettings()
T, C, G = D.training.train, D.training.citi, D.general
OPTIONS = {
    "training.train.epochs": "--epochs", "training.train.learning_rate": "--lr", "training.train.batch_size":
    "--batch-size", "training.train.grad_accum": "--grad-accum", "training.train.max_length": "--max-length",
    "training.train.seed": "--seed", "training.train.bf16": "--bf16", "training.citi.full_learning_rate": "--full-lr",
    "training.lora.r": "--lora-rank", "training.lora.alpha": "--lora-alpha", "training.citi.molora.num_experts":
    "--experts", "training.citi.molora.r": "--rank", "training.citi.molora.alpha": "--alpha",
    "training.citi.molora.top_k": "--top-k", "training.citi.molora.routing_loss": "--routing-loss",
    "training.citi.molora.routing_weight": "--routing-weight", "training.citi.molora.contrast": "--contrast",
    "training.citi.top_fraction": "--top-fraction", "training.citi.full_fraction": "--full-fraction",
    "training.citi.importance.batches": "--importance-batches",
    "training.citi.importance.aggregate": "--importance-aggregate", "general.share": "--general-share",
    "general.cl_root": "--cl-benchmark", "general.replay": "--replay", "eval_max_new_tokens": "--max-new-tokens",
    "cloze_items": "--cloze-items", "retention_windows": "--retention-windows", "task_items": "--task-items",
}
"""Field path -> option, to build the settings and to name the option in errors."""
AGGREGATE_HELP = ("dot (the paper's: |theta^T dL/dtheta| over the data) | sum | mean (per batch, of |theta * grad| "
                  "over a module; mean removes the advantage of large matrices)")
ROUTING_HELP = ("contrast (the paper's: general input to the backbone route, tool input to the experts) | balance "
                "(Switch load balance)")

Data = Annotated[Path | None, typer.Option("--data", exists=True, dir_okay=False, help="Training SFT JSONL "
                 "({messages, tools}); or --sandbox.")]
Sandbox = Annotated[bool, typer.Option("--sandbox", help="Instead of --data: the sandbox's gold trajectories with the "
                    "agent recipe's split (train on seen instructions x seen users; hold out --max-eval cases of "
                    "held-out instructions x held-out users, the same for every seed).")]
Bench = Annotated[bool, typer.Option("--bench", help="Also run every method through the benchmark on the held-out "
                  "cases (needs --sandbox; the agent recipe's benchmark settings) and report its checks.")]
Seeds = Annotated[str | None, typer.Option("--seeds", help="Several training seeds, e.g. 0,1 (instead of --seed): one "
                  "comparison per seed in OUT/seedN, then OUT/summary.md with the mean over seeds and paired "
                  "differences (retention against base, tool use against LoRA).")]
EvalData = Annotated[Path | None, typer.Option("--eval-data", exists=True, dir_okay=False, help="Held-out SFT JSONL "
                     "for tool-call accuracy (default: the last --eval-size examples of --data, not trained on).")]
Out = Annotated[Path, typer.Option("--out", help="Output directory; rerunning with the same options resumes, with "
                "other options is refused (see --overwrite).")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Remove an earlier comparison's results in --out and "
                      "start afresh (instead of refusing other options).")]
Model = Annotated[str, typer.Option("--model", "-m", help="smollm2 (embedded) | PATH to a HF checkpoint.")]
Method = Annotated[str, typer.Option("--method", help=METHOD_HELP)]
EvalSize = Annotated[int, typer.Option(min=1, help="Held-out examples taken from --data without --eval-data.")]
MaxRows = Annotated[int | None, typer.Option(min=1, help="A seeded random subset of this many examples.")]
Calls = Annotated[int, typer.Option(min=0, help="Cut every conversation after its first N tool-calling turns.")]
Pos = Annotated[int, typer.Option(min=1)]
MaxLength = Annotated[int, typer.Option(min=16, help="Token limit per training example.")]
TopK = Annotated[int | None, typer.Option(min=1, help="MoLoRA top-k routing (default dense).")]
Num = Annotated[float, typer.Option(min=0.0)]
Share = Annotated[float, typer.Option(min=0.0, max=1.0)]
Epochs = Annotated[float, typer.Option(min=0.01, help="Epochs of LoRA / full FT, and of CITI's MoLoRA stages "
                   "together (1/3 router alone + 2/3 router and experts, as the release's 1 + 2).")]
Aggregate = Annotated[str, typer.Option(help=AGGREGATE_HELP)]
Routing = Annotated[str, typer.Option(help=ROUTING_HELP)]
GeneralShare = Annotated[float, typer.Option(min=0.0, help="Share of general rows (CL benchmark tasks + replay of "
                         "the base model's answers) in every method's training mix.")]
CLRoot = Annotated[str | None, typer.Option("--cl-benchmark", help="The CL_Benchmark folder (O-LoRA layout): its "
                   "training tasks join the general rows, its held-out tasks are scored zero-shot.")]
Flag = Annotated[bool, typer.Option()]
TaskItems = Annotated[int, typer.Option(min=0, help="Zero-shot items per held-out general task (0: none).")]
Seed = Annotated[int, typer.Option(min=0, max=2**32 - 1)]


def citi(data: Data = None, sandbox: Sandbox = False, bench: Bench = False, seeds: Seeds = None,
         eval_data: EvalData = None, out: Out = Path("runs/citi"), overwrite: Overwrite = False,
         model: Model = "smollm2", method: Method = "citi", eval_size: EvalSize = 16, max_train: MaxRows = None,
         max_eval: MaxRows = None, calls_per_example: Calls = 0, epochs: Epochs = T.epochs, lr: Num = T.learning_rate,
         full_lr: Num = C.full_learning_rate, batch_size: Pos = T.batch_size, grad_accum: Pos = T.grad_accum,
         max_length: MaxLength = T.max_length, experts: Pos = C.molora.num_experts, rank: Pos = C.molora.r,
         alpha: Num = C.molora.alpha, top_k: TopK = C.molora.top_k, routing_loss: Routing = C.molora.routing_loss,
         routing_weight: Num = C.molora.routing_weight, contrast: Num = C.molora.contrast,
         lora_rank: Pos = D.training.lora.r, lora_alpha: Num = D.training.lora.alpha,
         top_fraction: Share = C.top_fraction, full_fraction: Share = C.full_fraction,
         importance_batches: Pos = C.importance.batches, importance_aggregate: Aggregate = C.importance.aggregate,
         general_share: GeneralShare = G.share, cl_benchmark: CLRoot = G.cl_root, replay: Flag = G.replay,
         max_new_tokens: Pos = D.eval_max_new_tokens, cloze_items: Pos = D.cloze_items,
         retention_windows: Pos = D.retention_windows, task_items: TaskItems = D.task_items, bf16: Flag = T.bf16,
         seed: Seed = T.seed) -> None:
    """Train with CITI (importance -> plan -> router, router + experts, full-tuned down_proj) and/or the
    baselines on tool rows mixed with general rows, then score tool-call accuracy on held-out conversations and
    retention (perplexity + cloze on held-out prose, zero-shot held-out tasks), each with its standard error.

    Example: tooltune train citi --sandbox --bench --method all --seeds 0,1 --bf16 --out runs/citi
    """
    values = dict(locals())
    from tooltune.methods.citi.experiment import comparison_data, run_comparison, sandbox_comparison_data
    from tooltune.methods.citi.seeds import run_seeds, summary_table

    check_sources(data, sandbox, bench, eval_data)
    seed_list = parse_seeds(seeds) if seeds is not None else [seed]
    methods = parse_methods(method)

    def data_for(run_seed: int) -> tuple[list, list, CompareSettings]:
        options = {field: values[name.lstrip("-").replace("-", "_")] for field, name in OPTIONS.items()}
        settings = build_settings({**options, "training.train.seed": run_seed})
        if not sandbox:
            train, held_out = comparison_data(data, eval_data, eval_size, calls_per_example, max_train, max_eval,
                                              run_seed)
            return train, held_out, settings
        train, held_out, case_ids = sandbox_comparison_data(calls_per_example, max_train, max_eval, run_seed)
        return train, held_out, settings.model_copy(update={"bench_cases": case_ids if bench else []})

    if seeds is None:
        train, held_out, settings = data_for(seed)
        comparison = run_comparison(methods, model, train, held_out, out, settings, overwrite, log=typer.echo)
        typer.echo(comparison.table())
        return
    summary = run_seeds(methods, model, seed_list, data_for, out, overwrite, log=typer.echo)
    typer.echo(summary_table(summary))


def check_sources(data: Path | None, sandbox: bool, bench: bool, eval_data: Path | None) -> None:
    """One source of rows, and the benchmark only where its held-out cases are known never to be trained on."""
    from tooltune.train.settings import SettingsError

    if (data is None) == (not sandbox):
        raise SettingsError("--data / --sandbox: give exactly one source of training rows")
    if sandbox and eval_data is not None:
        raise SettingsError("--eval-data: --sandbox holds out the agent recipe's evaluation cases itself")
    if bench and not sandbox:
        raise SettingsError("--bench: needs --sandbox (rows of --data may hold the benchmark's held-out cases)")


def parse_seeds(seeds: str) -> list[int]:
    """The distinct seeds of --seeds, in order; SettingsError for anything else."""
    from tooltune.cli.train_continual import comma_list
    from tooltune.train.settings import SEED_MAX, SettingsError

    items = comma_list(seeds)
    if not items or not all(i.isdigit() and int(i) <= SEED_MAX for i in items) or len(set(items)) != len(items):
        raise SettingsError(f"--seeds: give distinct seeds 0..{SEED_MAX} separated by commas, got {seeds!r}")
    return [int(i) for i in items]


def parse_methods(method: str) -> list[str]:
    """The methods of --method ('all', one, or a comma list); SettingsError for unknown ones."""
    from tooltune.methods.citi.experiment import METHODS
    from tooltune.train.settings import SettingsError

    methods = list(METHODS) if method.strip() == "all" else [m.strip() for m in method.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad or not methods:
        raise SettingsError(f"--method: unknown method(s) {bad or method!r}; use {METHOD_HELP}")
    return methods


def build_settings(options: dict[str, Any]) -> CompareSettings:
    """`CompareSettings` from {field path: value} over the defaults; errors name the option."""
    from tooltune.train.settings import config_from_options

    return config_from_options(CompareSettings, D, options, OPTIONS)


def register(app: typer.Typer) -> None:
    """Add the `citi` command to the `train` app."""
    app.command("citi")(citi)
