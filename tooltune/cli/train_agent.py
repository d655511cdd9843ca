"""`tooltune train agent`: the agent recipe (gold trajectories -> adapter -> base vs tuned on held-out cases).

Each option sets one field of `AgentRecipeConfig` (`OPTIONS`); its default is read from there, so a default
lives in one place, and a bad value is reported under the option's name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tooltune.cli.bench import NO_REPEAT_ANSWER_HELP
from tooltune.methods.agent_recipe import AgentRecipeConfig
from tooltune.models.dtype import DTYPE_HELP

D = AgentRecipeConfig()
T, L = D.training.train, D.training.lora
OPTIONS = {
    "model": "--model", "method": "--method", "train_cases": "--train-cases", "eval_cases": "--eval-cases",
    "held_out_instructions": "--held-out-instructions", "held_out_users": "--held-out-users",
    "training.train.epochs": "--epochs", "training.train.max_steps": "--max-steps", "training.train.learning_rate":
    "--lr", "training.citi.full_learning_rate": "--full-lr", "training.lora.r": "--lora-rank", "training.lora.alpha":
    "--lora-alpha", "training.train.batch_size": "--batch-size", "training.train.grad_accum": "--grad-accum",
    "training.train.max_length": "--max-length", "dtype": "--dtype", "strategies": "--strategy",
    "tool_choice": "--tool-choice", "max_turns": "--max-turns", "answer_on_last_turn": "--no-final-answer",
    "answer_on_repeat": "--no-answer-on-repeat", "answer_requests": "--answer-requests",
    "max_new_tokens": "--max-new-tokens", "eval_batch_size": "--eval-batch-size", "seed": "--seed",
}
"""Field path -> option, to build the config and to name the option in errors."""
NEGATED = {"answer_on_last_turn", "answer_on_repeat"}
"""Fields whose option says "no": the field is the option's negation."""

Out = Annotated[Path, typer.Option("--out", "-o", help="Recipe directory; rerunning resumes it.")]
Model = Annotated[str, typer.Option("--model", "-m", help="smollm2 (embedded) | PATH to a HF checkpoint.")]
Method = Annotated[str, typer.Option(help="lora (default) | full | citi.")]
Cases = Annotated[int | None, typer.Option(min=1, help="Use this many cases of that side (seeded; default all).")]
Share = Annotated[float, typer.Option(min=0.01, max=0.99, help="Share never trained on.")]
Epochs = Annotated[float, typer.Option(min=0.01)]
MaxSteps = Annotated[int, typer.Option(help="Stop training after this many optimizer steps (-1: by --epochs).")]
Rate = Annotated[float, typer.Option(min=0.0)]
Pos = Annotated[int, typer.Option(min=1)]
BatchSize = Annotated[int, typer.Option(min=1, help="Rows per step (1 wastes no padding on CPU).")]
MaxLength = Annotated[int, typer.Option(min=64, help="Token limit per trajectory (a longer one is cut, losing its "
                      "final answer).")]
Dtype = Annotated[str, typer.Option(help=DTYPE_HELP + "; bf16 means autocast in training.")]
Strategy = Annotated[str, typer.Option(help="Benchmark strategies, comma-separated (fc, react, plan).")]
ToolChoice = Annotated[str, typer.Option(help="auto | required | none | NAME at evaluation.")]
NoFinal = Annotated[bool, typer.Option("--no-final-answer", help="Cut episodes off at --max-turns instead of asking "
                    "for the final answer (tool_choice none) on the last turn.")]
NoRepeat = Annotated[bool, typer.Option("--no-answer-on-repeat", help=NO_REPEAT_ANSWER_HELP)]
Requests = Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of training trajectories whose final answer "
                     "follows the evaluation's request for it (the answer turn's own prompt).")]
Seed = Annotated[int, typer.Option(help="Seed of the split, the subsets, training and decoding.")]
Overwrite = Annotated[bool, typer.Option("--overwrite", help="Start afresh in an --out holding another recipe.")]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bars.")]


def agent(out: Out = Path("runs/agent"), model: Model = D.model, method: Method = D.method,
          train_cases: Cases = D.train_cases, eval_cases: Cases = D.eval_cases,
          held_out_instructions: Share = D.held_out_instructions, held_out_users: Share = D.held_out_users,
          epochs: Epochs = T.epochs, max_steps: MaxSteps = T.max_steps, lr: Rate = T.learning_rate,
          full_lr: Rate = D.training.citi.full_learning_rate, lora_rank: Pos = L.r, lora_alpha: Rate = L.alpha,
          batch_size: BatchSize = T.batch_size, grad_accum: Pos = T.grad_accum, max_length: MaxLength = T.max_length,
          dtype: Dtype = D.dtype, strategy: Strategy = ",".join(D.strategies), tool_choice: ToolChoice = D.tool_choice,
          max_turns: Pos = D.max_turns, no_final_answer: NoFinal = False, no_answer_on_repeat: NoRepeat = False,
          answer_requests: Requests = D.answer_requests, max_new_tokens: Pos = D.max_new_tokens,
          eval_batch_size: Pos = D.eval_batch_size, seed: Seed = D.seed, overwrite: Overwrite = False,
          quiet: Quiet = False) -> None:
    """Train a personal tool agent on the sandbox's gold trajectories and compare it with the base model on
    held-out instructions x held-out users. The last line printed is the comparison report's path.

    Example: tooltune train agent --train-cases 200 --eval-cases 32 --out runs/agent
    """
    values = dict(locals())
    from tooltune.bench.compare import comparison_text
    from tooltune.methods.agent_recipe import run_agent_recipe

    result = run_agent_recipe(recipe_config(values), out, progress=not quiet, log=typer.echo, overwrite=overwrite)
    typer.echo(comparison_text(result.comparison))
    typer.echo(f"model card: {result.card.resolve()}")
    if result.adapter:
        typer.echo(f"adapter: {Path(result.adapter).resolve()}")
    typer.echo(f"report: {result.report.resolve()}")


def recipe_config(values: dict) -> AgentRecipeConfig:
    """The recipe's config from the command's parameter values (by option name); errors name the option."""
    from tooltune.train.settings import config_from_options

    options = {}
    for field, name in OPTIONS.items():
        value = values[name.lstrip("-").replace("-", "_")]
        options[field] = (not value) if field in NEGATED else value
    options["strategies"] = [s.strip() for s in str(options["strategies"]).split(",") if s.strip()]
    return config_from_options(AgentRecipeConfig, D, options, OPTIONS)


def register(app: typer.Typer) -> None:
    """Add the `agent` command to the `train` app."""
    app.command("agent")(agent)
