"""`tooltune train agent`: the agent recipe (gold trajectories -> adapter -> base vs tuned on held-out cases)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from tooltune.cli.bench import NO_REPEAT_ANSWER_HELP
from tooltune.models.dtype import DTYPE_HELP


def agent(
    out: Path = typer.Option(Path("runs/agent"), "--out", "-o", help="Recipe directory; rerunning resumes it."),
    model: str = typer.Option("smollm2", "--model", "-m", help="smollm2 (embedded) | PATH to a HF checkpoint."),
    method: str = typer.Option("lora", "--method", help="lora (default) | full | citi."),
    train_cases: Optional[int] = typer.Option(None, "--train-cases", min=1,
                                              help="Train on this many training cases (seeded; default all)."),
    eval_cases: Optional[int] = typer.Option(None, "--eval-cases", min=1,
                                             help="Evaluate on this many held-out cases (seeded; default all)."),
    held_out_instructions: float = typer.Option(0.25, "--held-out-instructions", min=0.01, max=0.99,
                                                help="Share of instructions never trained on."),
    held_out_users: float = typer.Option(0.25, "--held-out-users", min=0.01, max=0.99,
                                         help="Share of users never trained on."),
    epochs: float = typer.Option(1.0, "--epochs", min=0.01),
    max_steps: int = typer.Option(-1, "--max-steps", help="Stop training after this many optimizer steps "
                                  "(-1: by --epochs)."),
    lr: float = typer.Option(1e-3, "--lr", min=0.0, help="Learning rate of the adapter (LoRA, CITI)."),
    full_lr: float = typer.Option(2e-5, "--full-lr", min=0.0, help="Learning rate of full fine-tuning."),
    lora_rank: int = typer.Option(16, "--lora-rank", min=1),
    lora_alpha: float = typer.Option(32.0, "--lora-alpha", min=0.0),
    batch_size: int = typer.Option(1, "--batch-size", min=1, help="Rows per step (1 wastes no padding on CPU)."),
    grad_accum: int = typer.Option(4, "--grad-accum", min=1),
    max_length: int = typer.Option(4096, "--max-length", min=64,
                                    help="Token limit per trajectory (a longer one is cut, losing its final answer)."),
    dtype: str = typer.Option("auto", "--dtype", help=DTYPE_HELP + "; bf16 means autocast in training."),
    strategy: str = typer.Option("fc", "--strategy", help="Benchmark strategies, comma-separated (fc, react, plan)."),
    tool_choice: str = typer.Option("auto", "--tool-choice", help="auto | required | none | NAME at evaluation."),
    max_turns: int = typer.Option(8, "--max-turns", min=1),
    no_final_answer: bool = typer.Option(
        False, "--no-final-answer",
        help="Cut episodes off at --max-turns instead of asking for the final answer (tool_choice none) on "
             "the last turn."),
    no_answer_on_repeat: bool = typer.Option(False, "--no-answer-on-repeat", help=NO_REPEAT_ANSWER_HELP),
    answer_requests: float = typer.Option(0.5, "--answer-requests", min=0.0, max=1.0,
                                          help="Share of training trajectories whose final answer follows the "
                                               "evaluation's request for it (the answer turn's own prompt)."),
    max_new_tokens: int = typer.Option(160, "--max-new-tokens", min=1),
    eval_batch_size: int = typer.Option(16, "--eval-batch-size", min=1),
    seed: int = typer.Option(0, "--seed"),
    overwrite: bool = typer.Option(False, "--overwrite", help="Start afresh in an --out holding another recipe."),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bars."),
) -> None:
    """Train a personal tool agent on the sandbox's gold trajectories and compare it with the base model on
    held-out instructions x held-out users. The last line printed is the comparison report's path.

    Example: tooltune train agent --train-cases 200 --eval-cases 32 --out runs/agent
    """
    from pydantic import ValidationError

    from tooltune.bench.compare import CompareError, comparison_text
    from tooltune.bench.config import RunConfigError
    from tooltune.errors import TooltuneError, one_line
    from tooltune.methods.agent_recipe import AgentRecipeConfig, run_agent_recipe
    from tooltune.train.settings import settings_error

    try:
        config = AgentRecipeConfig(
            model=model, method=method, held_out_instructions=held_out_instructions, held_out_users=held_out_users,
            train_cases=train_cases, eval_cases=eval_cases, epochs=epochs, max_steps=max_steps, learning_rate=lr,
            full_learning_rate=full_lr, lora_r=lora_rank, lora_alpha=lora_alpha, batch_size=batch_size,
            grad_accum=grad_accum, max_length=max_length, dtype=dtype,
            strategies=[s.strip() for s in strategy.split(",") if s.strip()], tool_choice=tool_choice,
            answer_on_last_turn=not no_final_answer, answer_on_repeat=not no_answer_on_repeat,
            answer_requests=answer_requests, max_turns=max_turns, max_new_tokens=max_new_tokens,
            eval_batch_size=eval_batch_size, seed=seed)
    except ValidationError as exc:
        raise settings_error(exc, {**{f: "--" + f.replace("_", "-") for f in AgentRecipeConfig.model_fields},
                                   **OPTIONS}) from None
    try:
        result = run_agent_recipe(config, out, progress=not quiet, log=typer.echo, overwrite=overwrite)
    except (TooltuneError, RunConfigError, CompareError) as exc:
        typer.echo(f"error: {one_line(exc)}", err=True)
        raise typer.Exit(getattr(exc, "exit_code", 2)) from None
    typer.echo(comparison_text(result.comparison))
    typer.echo(f"model card: {result.card.resolve()}")
    if result.adapter:
        typer.echo(f"adapter: {Path(result.adapter).resolve()}")
    typer.echo(f"report: {result.report.resolve()}")


OPTIONS = {"learning_rate": "--lr", "full_learning_rate": "--full-lr", "lora_r": "--lora-rank",
           "strategies": "--strategy", "answer_on_last_turn": "--no-final-answer",
           "answer_on_repeat": "--no-answer-on-repeat"}
"""Recipe fields whose option is not the field name with dashes (the others are)."""


def register(app: typer.Typer) -> None:
    """Add the `agent` command to the `train` app."""
    app.command("agent")(agent)
