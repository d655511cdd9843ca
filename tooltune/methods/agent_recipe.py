"""The agent recipe: teach a model to be a personal tool agent from the sandbox's gold trajectories, then
measure it against the base model on instructions and users it never saw.

Split by instruction *and* by user: held-out instructions are never trained on, held-out users neither;
the evaluation cases are held-out instructions x held-out users. Training goes through the shared trainer
(LoRA by default, any CITI-comparison method as an option) with bf16 autocast where the CPU/GPU has it.
Everything lands in one directory that a rerun resumes:

    recipe.json       the settings (a rerun with other settings is refused)
    split.json        held-out instructions and users, train and evaluation case ids
    train.jsonl       the SFT rows (gold trajectories, every assistant turn labelled)
    train/            trainer checkpoints; train/adapter (or train/model for full tuning)
    bench-base/ bench-tuned/   benchmark runs on the evaluation cases (same cases, same settings)
    compare/          compare.json + compare.html (paired differences with bootstrap intervals)
    MODEL_CARD.md     data, split, settings and scores (also copied into the adapter directory as README.md)
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from tooltune.adapters import TARGET_MODULES, LoRAConfig
from tooltune.atomic import read_json_object, write_json_atomic
from tooltune.bench.strategies import STRATEGIES
from tooltune.bench.strategies.base import FINAL_ANSWER_REQUEST
from tooltune.errors import UsageError
from tooltune.methods.citi.config import CITIConfig, MethodTraining
from tooltune.models.dtype import DTYPE_NAMES
from tooltune.models.types import TOOL_CHOICE_MODES, is_function_name
from tooltune.sandbox.cases import Case
from tooltune.sandbox.export import split_cases
from tooltune.train import TrainConfig
from tooltune.train.settings import SEED_MAX, begin_run, check_run_dir

RECIPE_FILE = "recipe.json"
RECIPE_HINT = "rerun with the same settings to resume, choose another --out, or add --overwrite to start afresh"

RECIPE_METHODS = ("lora", "full", "citi")
RecipeMethod = Literal["lora", "full", "citi"]


class RecipeError(UsageError):
    """The recipe cannot run as asked (bad settings, a directory holding another recipe's results)."""


def agent_training() -> MethodTraining:
    """The recipe's training defaults: LoRA r16 at lr 1e-3 on whole trajectories (one per step, no padding on
    CPU), full fine-tuning at 2e-5 (CITI's rate for whole modules)."""
    return MethodTraining(
        train=TrainConfig(output_dir="train", epochs=1.0, learning_rate=1e-3, batch_size=1, grad_accum=4,
                          max_length=4096, logging_steps=5, save_total_limit=1),
        lora=LoRAConfig(target_modules=list(TARGET_MODULES), r=16, alpha=32.0),
        citi=CITIConfig(full_learning_rate=2e-5))


class AgentRecipeConfig(BaseModel):
    """Every knob of the recipe; stored in recipe.json and compared on rerun. `training` is the methods' own
    training config, held whole (its output directory and seed are the recipe's: `out/train`, `seed`)."""

    model_config = ConfigDict(extra="forbid")

    model: str = "smollm2"
    method: RecipeMethod = "lora"
    held_out_instructions: float = Field(0.25, gt=0, lt=1, description="share of instructions never trained on")
    held_out_users: float = Field(0.25, gt=0, lt=1, description="share of users never trained on")
    train_cases: int | None = Field(None, ge=1, description="train on this many of the training cases (seeded)")
    eval_cases: int | None = Field(None, ge=1, description="evaluate on this many held-out cases (seeded)")
    training: MethodTraining = Field(default_factory=agent_training)
    dtype: str = Field("auto", description="auto | float32 | bfloat16: bf16 autocast in training, bf16 weights "
                                           "at evaluation")
    strategies: list[str] = Field(default_factory=lambda: ["fc"])
    tool_choice: str = "auto"
    answer_on_last_turn: bool = True
    answer_on_repeat: bool = True
    answer_requests: float = Field(0.5, ge=0, le=1, description="share of training trajectories whose final answer "
                                   "follows the evaluation's request for it")
    max_turns: int = Field(8, ge=1)
    max_new_tokens: int = Field(160, ge=1)
    eval_batch_size: int = Field(16, ge=1)
    seed: int = Field(0, ge=0, le=SEED_MAX)

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        if value not in DTYPE_NAMES:
            raise ValueError(f"choose from {list(DTYPE_NAMES)}, got {value!r}")
        return value

    @field_validator("strategies")
    @classmethod
    def _known_strategies(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in STRATEGIES]
        if not value or unknown:
            raise ValueError(f"choose from {sorted(STRATEGIES)}, got {value}")
        return value

    @field_validator("tool_choice")
    @classmethod
    def _valid_tool_choice(cls, value: str) -> str:
        if value not in TOOL_CHOICE_MODES and not is_function_name(value):
            raise ValueError(f"choose from {list(TOOL_CHOICE_MODES)} or a function name, got {value!r}")
        return value


@dataclass
class RecipeSplit:
    """Who and what is held out, and the cases on each side."""

    held_out_instructions: list[str]
    held_out_users: list[str]
    train: list[Case]
    evaluation: list[Case]

    def to_dict(self) -> dict[str, Any]:
        return {"held_out_instructions": self.held_out_instructions, "held_out_users": self.held_out_users,
                "train_cases": [c.id for c in self.train], "eval_cases": [c.id for c in self.evaluation]}


def recipe_split(cases: Sequence[Case], config: AgentRecipeConfig) -> RecipeSplit:
    """Train on seen instructions x seen users, evaluate on held-out instructions x held-out users.

    Cases that mix a seen with a held-out side are used by neither, so nothing held out leaks into training.
    """
    by_instruction = split_cases(list(cases), "instruction", config.held_out_instructions, config.seed)
    by_user = split_cases(list(cases), "user", config.held_out_users, config.seed)
    unseen_instructions = sorted({c.instruction.id for c in by_instruction[1]})
    unseen_users = sorted({c.user.id for c in by_user[1]})
    train = [c for c in cases if c.instruction.id not in unseen_instructions and c.user.id not in unseen_users]
    evaluation = [c for c in cases if c.instruction.id in unseen_instructions and c.user.id in unseen_users]
    train = _sample(train, config.train_cases, config.seed)
    evaluation = _sample(evaluation, config.eval_cases, config.seed + 1)
    if not train or not evaluation:
        raise RecipeError(f"the split left {len(train)} training and {len(evaluation)} evaluation cases")
    return RecipeSplit(unseen_instructions, unseen_users, train, evaluation)


def _sample(cases: list[Case], limit: int | None, seed: int) -> list[Case]:
    """A seeded subset of `limit` cases in their original order (all when limit is None or larger)."""
    if limit is None or limit >= len(cases):
        return cases
    keep = set(random.Random(seed).sample(range(len(cases)), limit))
    return [c for i, c in enumerate(cases) if i in keep]


def with_answer_requests(examples: list[dict[str, Any]], share: float, seed: int) -> list[dict[str, Any]]:
    """A seeded `share` of the trajectories with the benchmark's request for the final answer (the user message
    of the answer turn) put before their final answer, so the model has seen the prompt it answers at evaluation.
    A trajectory whose last message is not a plain assistant answer is left as it is."""
    answered = [i for i, e in enumerate(examples) if _ends_in_answer(e["messages"])]
    chosen = set(random.Random(seed).sample(answered, round(share * len(answered))))
    out = []
    for index, example in enumerate(examples):
        if index in chosen:
            messages = example["messages"]
            example = {**example, "messages": [*messages[:-1], dict(FINAL_ANSWER_REQUEST), messages[-1]]}
        out.append(example)
    return out


def _ends_in_answer(messages: list[dict[str, Any]]) -> bool:
    """Whether the last message is an assistant's answer in words after at least one tool result."""
    last = messages[-1] if messages else {}
    return (last.get("role") == "assistant" and not last.get("tool_calls") and bool(last.get("content"))
            and len(messages) >= 2 and messages[-2].get("role") == "tool")


def check_recipe_dir(out: Path, config: AgentRecipeConfig, overwrite: bool = False) -> bool:
    """True when `out` holds this recipe to resume; RunDirError when it holds another recipe's results or
    files of something else (`overwrite` removes them instead, in `begin_run`)."""
    return check_run_dir(out, config.model_dump(), settings_file=RECIPE_FILE, overwrite=overwrite, hint=RECIPE_HINT)


def train_agent(config: AgentRecipeConfig, examples: list[dict[str, Any]], out: Path) -> tuple[str, str | None, dict]:
    """Train one method on the SFT rows; returns (model spec, adapter dir or None, facts) for the benchmark."""
    import torch

    from tooltune.methods.citi.training import load_model_spec, method_model, train_method
    from tooltune.models.dtype import resolve_dtype

    bf16 = resolve_dtype(config.dtype) == torch.bfloat16
    train_dir = out / "train"
    train = config.training.train.model_copy(update={"output_dir": str(train_dir), "seed": config.seed, "bf16": bf16})
    settings = config.training.model_copy(update={"train": train})
    model, tokenizer = load_model_spec(config.model)()
    started = time.perf_counter()
    facts = train_method(config.method, model, tokenizer, examples, train_dir, settings)
    facts.update(train_seconds=round(time.perf_counter() - started, 1), bf16_autocast=bf16)
    return (*method_model(config.method, model, tokenizer, train_dir, config.model), facts)


def bench_config(config: AgentRecipeConfig, model: str, adapter: str | None, case_ids: list[str]) -> Any:
    """The benchmark run of one side of the comparison: the evaluation cases, identical settings."""
    from tooltune.bench.config import RunConfig

    return RunConfig(model=model, adapter=adapter, strategies=list(config.strategies), cases=case_ids,
                     max_turns=config.max_turns, max_new_tokens=config.max_new_tokens, seed=config.seed,
                     batch_size=config.eval_batch_size, tool_choice=config.tool_choice, dtype=config.dtype,
                     answer_on_last_turn=config.answer_on_last_turn, answer_on_repeat=config.answer_on_repeat)


def run_bench_side(config: Any, run_dir: Path, progress: bool) -> dict[str, Any]:
    """Run (or resume) one benchmark run; returns its summary."""
    from tooltune.bench.run import run_benchmark

    result = run_benchmark(config, run_dir, resume=(run_dir / "config.json").is_file(), progress=progress)
    if result.counts["failed"]:
        first = next(iter(result.failures.values())).strip().splitlines()[-1]
        raise RecipeError(f"{result.counts['failed']} episodes of {run_dir} failed (rerun to retry): {first}")
    return result.summary


@dataclass
class RecipeResult:
    out: Path
    adapter: str | None
    model: str
    comparison: dict[str, Any]
    report: Path
    card: Path


def run_agent_recipe(config: AgentRecipeConfig, out: str | Path, *, progress: bool = True,
                     log: Any = print, overwrite: bool = False) -> RecipeResult:
    """Split, export the gold trajectories, train, benchmark base and tuned, compare, write the model card.
    A rerun with the same settings resumes; `overwrite` starts afresh in a directory of other settings."""
    from tooltune.bench.compare import compare_runs, write_comparison
    from tooltune.sandbox.export import sft_records
    from tooltune.sandbox.suite import builtin_suite

    out = Path(out)
    begin_run(out, config.model_dump(), settings_file=RECIPE_FILE, overwrite=overwrite, hint=RECIPE_HINT)
    suite = builtin_suite()
    split = recipe_split(suite.cases, config)
    (out / "split.json").write_text(json.dumps(split.to_dict(), indent=1) + "\n")
    log(f"split: {len(split.train)} training cases, {len(split.evaluation)} evaluation cases "
        f"({len(split.held_out_instructions)} held-out instructions x {len(split.held_out_users)} held-out users)")

    done = out / "train" / "done.json"
    trained = read_json_object(done)  # a resumed recipe: the training data and the adapter are already there
    if trained is None:  # (missing, or half-written by an older version: train again)
        examples = with_answer_requests(list(sft_records(split.train, suite)), config.answer_requests, config.seed)
        (out / "train.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples))
        log(f"training {config.method} on {len(examples)} gold trajectories")
        model, adapter, facts = train_agent(config, examples, out)
        trained = {"model": model, "adapter": adapter, "facts": facts}
        write_json_atomic(done, trained)

    case_ids = [c.id for c in split.evaluation]
    log("benchmark: base model")
    base = run_bench_side(bench_config(config, config.model, None, case_ids), out / "bench-base", progress)
    log("benchmark: tuned model")
    tuned = run_bench_side(bench_config(config, trained["model"], trained["adapter"], case_ids),
                           out / "bench-tuned", progress)
    comparison = compare_runs([out / "bench-base", out / "bench-tuned"], labels=["base", f"tuned ({config.method})"],
                              seed=config.seed)
    report = write_comparison(comparison, out / "compare")
    card = out / "MODEL_CARD.md"
    card.write_text(model_card(config, split, trained, comparison.result, {"base": base, "tuned": tuned}))
    if trained["adapter"]:
        (Path(trained["adapter"]) / "README.md").write_text(card.read_text())
    return RecipeResult(out, trained["adapter"], trained["model"], comparison.result, report, card)


def model_card(config: AgentRecipeConfig, split: RecipeSplit, trained: dict[str, Any], comparison: dict[str, Any],
               summaries: dict[str, dict[str, Any]]) -> str:
    """A Hugging Face style model card: what was trained on what, how it was measured, what it scored."""
    facts = trained["facts"]
    train, lora = config.training.train, config.training.lora
    lines = [
        "---", f"base_model: {config.model}", "library_name: tooltune", f"tags: [tool-use, agent, {config.method}]",
        "---", "", f"# {config.model} + {config.method}: a personal tool agent trained by tooltune", "",
        "## Data", "",
        f"Gold trajectories of the tooltune sandbox (every assistant turn labelled: the tool calls and the final "
        f"answer that applies the user's preferences): {len(split.train)} cases.", "",
        "## Split", "",
        f"Held out (never trained on): {len(split.held_out_instructions)} instructions "
        f"({', '.join(split.held_out_instructions)}) and {len(split.held_out_users)} users "
        f"({', '.join(split.held_out_users)}). Evaluation: {len(split.evaluation)} cases of held-out instructions "
        "x held-out users.", "",
        "## Training", "",
        f"Method {config.method}; epochs {train.epochs}, max steps {train.max_steps}, learning rate "
        f"{train.learning_rate}, LoRA r={lora.r} alpha={lora.alpha}, batch {train.batch_size} x "
        f"accumulation {train.grad_accum}, max length {train.max_length}, bf16 autocast "
        f"{facts.get('bf16_autocast')}, seed {config.seed}; trainable parameters "
        f"{facts.get('trainable_parameters', 0):,}; final train loss {facts.get('train_loss')}; "
        f"{facts.get('train_seconds')} s.", "",
        "## Scores (held-out cases, paired)", "",
        f"Strategies {', '.join(config.strategies)}, tool_choice {config.tool_choice}, at most {config.max_turns} "
        f"turns, dtype {config.dtype}. Difference = tuned - base, {round(comparison['method']['level'] * 100)} % "
        "bootstrap interval over cases.", "",
        "| dimension | base | tuned | difference | interval |", "|---|---|---|---|---|",
    ]
    for dim, entry in comparison["dimensions"].items():
        base, tuned = entry["means"][:2]
        low, high = entry["ci"]
        lines.append(f"| {dim} | {base:.3f} | {tuned:.3f} | {entry['diff']:+.3f} | [{low:+.3f}, {high:+.3f}] |")
    lines += ["", f"Cases: {comparison['n_cases']}; episodes per run: {comparison['n_episodes']}.", ""]
    return "\n".join(lines)
