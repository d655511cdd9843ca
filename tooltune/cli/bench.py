"""`tooltune bench ...`: run, judge and report the personalized tool-use benchmark."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tooltune.models.dtype import DTYPE_HELP

app = typer.Typer(help="Run, judge and report the personalized tool-use benchmark.", no_args_is_help=True)


def _split(values: list[str] | None) -> list[str]:
    """Accept both repeated options and comma-separated lists."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


INSECURE_KEY_HELP = ("Send $OPENAI_API_KEY even over plain http to a host other than this machine (by default it "
                     "goes only over https or to localhost).")
TOOL_CHOICE_HELP = ("OpenAI tool_choice for every turn: auto (default, as OpenAI: text or calls), required (calls every "
                    "turn, so FC episodes run to --max-turns), none (no calls), or NAME (force that tool whenever it is "
                    "offered, else auto). Local models enforce it with a grammar (calls are always well-formed); "
                    "HTTP servers get it as tool_choice (FC).")
NO_FINAL_ANSWER_HELP = ("Cut episodes off at --max-turns instead of asking for the final answer (tool_choice none) on "
                        "the last turn.")
NO_REPEAT_ANSWER_HELP = ("Let an agent that repeats a call it already made go on calling, instead of asking for its final "
                         "answer on the next turn.")

# `bench run`'s options, declared once here so that the command itself stays a few lines
Model = Annotated[str, typer.Option("--model", "-m", help="Agent model spec (see `tooltune models`).")]
Adapter = Annotated[str | None, typer.Option(help="A tooltune/PEFT adapter directory to attach to a local model.")]
SuiteSpec = Annotated[str, typer.Option(help="'builtin' or 'etapp:PATH' (an upstream ETAPP release).")]
Strategies = Annotated[list[str], typer.Option("--strategy", "-s", help="fc, react, plan (repeat or comma-list).")]
Settings = Annotated[list[str], typer.Option("--setting", help="given (case tools) or retrieval.")]
Trials = Annotated[int, typer.Option(help="Trials per case (pass^k needs several; use --temperature > 0).")]
MaxTurns = Annotated[int, typer.Option(help="Model turns per episode before it is cut off.")]
Seed = Annotated[int, typer.Option(help="Seed for --limit sampling and decoding.")]
Limit = Annotated[int | None, typer.Option(help="Keep this many cases (drawn with --seed).")]
Users = Annotated[list[str] | None, typer.Option("--users", help="Only these user ids.")]
Apps = Annotated[list[str] | None, typer.Option("--apps", help="Only cases touching these apps.")]
Cases = Annotated[list[str] | None, typer.Option("--cases", help="Only these case ids.")]
Temperature = Annotated[float, typer.Option(help="Sampling temperature of the agent (0 = greedy).")]
MaxNewTokens = Annotated[int, typer.Option(help="Tokens per model turn.")]
NoProfile = Annotated[bool, typer.Option("--no-profile", help="Leave the user profile out of the prompt.")]
Concurrency = Annotated[int, typer.Option(help="Requests in flight for HTTP backends.")]
BatchSize = Annotated[int, typer.Option(help="Episodes advanced per batched generate for local models.")]
ToolChoice = Annotated[str, typer.Option("--tool-choice", help=TOOL_CHOICE_HELP)]
NoFinalAnswer = Annotated[bool, typer.Option("--no-final-answer", help=NO_FINAL_ANSWER_HELP)]
NoRepeatAnswer = Annotated[bool, typer.Option("--no-answer-on-repeat", help=NO_REPEAT_ANSWER_HELP)]
Dtype = Annotated[str, typer.Option("--dtype", help="Local models: " + DTYPE_HELP + ".")]
Judges = Annotated[list[str] | None, typer.Option("--judge", help="LLM judge model spec (repeat to vote).")]
RunOut = Annotated[Path | None, typer.Option("--out", "-o", help="Run directory (default runs/bench-<time>).")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue the run in --out, redoing unfinished episodes.")]
InsecureKey = Annotated[bool, typer.Option("--allow-insecure-key", help=INSECURE_KEY_HELP)]
Quiet = Annotated[bool, typer.Option("--quiet", help="No progress bar.")]


@app.command()
def run(model: Model, adapter: Adapter = None, suite: SuiteSpec = "builtin", strategy: Strategies = ["fc"],  # noqa: B006
        setting: Settings = ["given"], trials: Trials = 1, max_turns: MaxTurns = 20, seed: Seed = 0,  # noqa: B006
        limit: Limit = None, users: Users = None, apps: Apps = None, cases: Cases = None,
        temperature: Temperature = 0.0, max_new_tokens: MaxNewTokens = 256, no_profile: NoProfile = False,
        concurrency: Concurrency = 8, batch_size: BatchSize = 8, tool_choice: ToolChoice = "auto",
        no_final_answer: NoFinalAnswer = False, no_answer_on_repeat: NoRepeatAnswer = False, dtype: Dtype = "auto", judge: Judges = None, out: RunOut = None,
        resume: Resume = False, allow_insecure_key: InsecureKey = False, quiet: Quiet = False) -> None:
    """Evaluate a model as a personal tool-using agent; writes scores and an HTML report."""
    from tooltune.bench.config import RunConfig
    from tooltune.bench.run import run_bench
    from tooltune.bench.suites import stored_spec

    if resume and out is None:
        raise typer.BadParameter("--resume needs --out RUN_DIR", param_hint="--resume")
    config = RunConfig(
        model=model, adapter=adapter, suite=stored_spec(suite), strategies=_split(strategy), settings=_split(setting),
        trials=trials, max_turns=max_turns, seed=seed, limit=limit, users=_split(users), apps=_split(apps),
        cases=_split(cases), temperature=temperature, max_new_tokens=max_new_tokens, include_profile=not no_profile,
        concurrency=concurrency, batch_size=batch_size, dtype=dtype, tool_choice=tool_choice,
        answer_on_last_turn=not no_final_answer, answer_on_repeat=not no_answer_on_repeat,
        allow_insecure_key=allow_insecure_key)
    result = run_bench(config, out, resume=resume, judge_specs=_split(judge), progress=not quiet)
    typer.echo(result.text())
    result.check()


@app.command("judge")
def judge_command(
    run_dir: Path = typer.Argument(..., help="A run directory written by `tooltune bench run`."),
    judge: list[str] | None = typer.Option(None, "--judge", help="LLM judge model spec (repeat to vote)."),
    replay: bool = typer.Option(False, "--replay", help="Also recompute deterministic checks by replaying calls."),
    allow_insecure_key: bool = typer.Option(False, "--allow-insecure-key", help=INSECURE_KEY_HELP),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Re-score a saved run without calling the agent model (LLM judges are cached)."""
    from tooltune.bench.run import RunFailedError, judge_problem, load_judges, rescore_run
    from tooltune.bench.scores import summary_text

    if not judge and not replay:
        raise typer.BadParameter("give --judge MODEL (repeatable) and/or --replay", param_hint="--judge")
    judges = load_judges(_split(judge), allow_insecure_key)
    summary, report = rescore_run(run_dir, judges=judges, replay=replay, progress=not quiet)
    typer.echo(summary_text(summary))
    typer.echo(f"report: {report.resolve()}")
    problem = judge_problem(summary)
    if problem:
        raise RunFailedError(problem)


@app.command()
def report(run_dir: Path = typer.Argument(..., help="A run directory written by `tooltune bench run`.")) -> None:
    """Rewrite scores (JSON, CSV) and the HTML report of a saved run from its log."""
    from tooltune.bench.run import rescore_run
    from tooltune.bench.scores import summary_text

    summary, path = rescore_run(run_dir, progress=False)
    typer.echo(summary_text(summary))
    typer.echo(f"report: {path.resolve()}")


@app.command()
def compare(
    runs: list[Path] = typer.Argument(..., help="Two or more run directories; the first is the reference."),
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="Output directory (default: beside the first run, compare-<names>)."),
    labels: str | None = typer.Option(None, "--labels", help="Comma-separated run labels (default: model + adapter)."),
    resamples: int = typer.Option(10_000, "--resamples", help="Bootstrap resamples of cases."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
) -> None:
    """Compare runs on their shared episodes: paired differences with bootstrap CIs; compare.json + compare.html."""
    from tooltune.bench.compare import CompareError, compare_runs, comparison_text, default_out_dir, write_comparison

    try:
        comparison = compare_runs(runs, labels=_split([labels] if labels else None) or None, resamples=resamples,
                                  seed=seed)
        path = write_comparison(comparison, out or default_out_dir(runs))
    except (CompareError, OSError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(comparison_text(comparison.result))
    typer.echo(f"report: {path.resolve()}")


@app.command("import-etapp")
def import_etapp(path: Path = typer.Argument(..., help="An upstream ETAPP release directory.")) -> None:
    """Read an ETAPP release into tooltune users, state and cases; print what was found and what is missing."""
    from tooltune.bench.etapp import load_etapp_suite

    suite = load_etapp_suite(path)
    typer.echo(suite.import_report.text())
    typer.echo(f"run it: tooltune bench run --suite etapp:{path} --model MODEL")
