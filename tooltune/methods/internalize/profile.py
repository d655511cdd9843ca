"""Internalizing a user profile: the personal agent learns the user's preferences and stops needing them
in its prompt.

The knowledge is the sandbox user's rendered profile (persona + the concrete preferences of the apps
involved); training data are that user's gold trajectories, whose system message holds the profile compressed
to S_t at stage t and no profile at the last stage. Evaluation runs held-out instructions of the same user
through the benchmark's agent loop and counts the deterministic personalization checks passed.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from statistics import mean
from typing import Any

from tooltune.methods.internalize.compress import (
    Compressor,
    SurprisalCompressor,
    compressor_path,
    make_compressor,
)
from tooltune.methods.internalize.config import ProfileConfig
from tooltune.methods.internalize.errors import InternalizeError
from tooltune.methods.internalize.method import (
    begin_experiment,
    train_baseline,
    train_staged,
)
from tooltune.methods.internalize.metrics import count_parameters, forward_flops
from tooltune.methods.internalize.profile_eval import evaluate_condition, offered_tools
from tooltune.methods.internalize.progress import Event, Progress, print_messages
from tooltune.methods.internalize.prompts import compress_for_stage
from tooltune.methods.internalize.schedule import StagePlan
from tooltune.models.registry import TrainableLoader

BASE_ADAPTER = "base_adapter"
"""Folder, inside an internalized adapter, holding the adapter its student started from."""


def user_cases(suite: Any, user_id: str, apps: list[str] | None = None) -> list[Any]:
    """The user's cases that have a reference solver (and use only `apps`, when given), in a stable order.

    Restricting the apps keeps training and held-out instructions on the same preferences: a profile can
    only be internalized for the apps the training trajectories exercise.
    """
    from tooltune.sandbox.reference import gold_trajectory

    check_users(suite, [user_id])
    cases = [c for c in suite.cases if c.user.id == user_id]
    if apps:
        known_apps = sorted({a for c in cases for a in c.instruction.apps})
        unknown = sorted(set(apps) - set(known_apps))
        if unknown:
            raise InternalizeError(f"apps: unknown app(s) {unknown}; the user's instructions use {known_apps}")
        cases = [c for c in cases if set(c.instruction.apps) <= set(apps)]
    usable = []
    for case in cases:
        try:
            with suite.open_world(case) as world:
                gold_trajectory(case, world)
        except (KeyError, LookupError, RuntimeError):
            continue
        usable.append(case)
    return usable


def check_users(suite: Any, user_ids: list[str]) -> None:
    """Refuse (InternalizeError naming them) user ids the suite has no case of."""
    known = sorted({c.user.id for c in suite.cases})
    unknown = [u for u in user_ids if u not in known]
    if unknown:
        named = repr(unknown[0]) if len(user_ids) == 1 else str(unknown)
        raise InternalizeError(f"user: no sandbox user {named}; known users: {', '.join(known)}")


def split_cases(cases: list[Any], n_train: int, n_test: int, seed: int,
                test_instructions: list[str] | None = None) -> tuple[list[Any], list[Any]]:
    """(train, test): held-out instructions first (from `test_instructions` when given, those with checkable
    personal key points first), then training instructions, never one of `test_instructions`, those sharing
    the most apps with the held-out ones first (a profile can only be internalized for the apps trained on)."""
    order = list(cases)
    random.Random(seed).shuffle(order)
    reserved = set(test_instructions or [])
    unknown = sorted(reserved - {c.instruction.id for c in cases})
    if unknown:
        raise InternalizeError(f"test_instructions: the user has no usable case of {unknown}")
    pool = [c for c in order if c.instruction.id in reserved] if reserved else order
    rest = [c for c in order if c.instruction.id not in reserved]
    if len(pool) < n_test or len(rest) < n_train + (0 if reserved else n_test):
        raise InternalizeError(f"n_train + n_test: the user has {len(pool)} instructions to hold out and "
                               f"{len(rest)} to train on (with gold trajectories), asked for {n_train} + {n_test}")
    checkable = [c for c in pool if any(k.kind == "personal" and k.check for k in c.instruction.keypoints)]
    test = checkable[:n_test] if len(checkable) >= n_test else pool[:n_test]
    apps = {a for c in test for a in c.instruction.apps}
    candidates = [c for c in rest if c not in test]
    train = sorted(candidates, key=lambda c: -len(apps & set(c.instruction.apps)))[:n_train]  # stable: seeded ties
    return train, test


def profile_text(case: Any) -> str:
    from tooltune.sandbox.prompts import render_profile

    return render_profile(case.user, case.instruction.apps)


def stage_example(case: Any, plan: StagePlan, compressor: Compressor) -> dict:
    """The gold trajectory of `case` with its profile compressed to this stage's share (gone at S = 0)."""
    from tooltune.sandbox.prompts import system_prompt
    from tooltune.sandbox.reference import gold_trajectory
    from tooltune.sandbox.suite import builtin_suite

    with builtin_suite().open_world(case) as world:
        trajectory = gold_trajectory(case, world)
        tools = offered_tools(world, case)
    profile = profile_text(case)
    kept = compress_for_stage(profile, plan, compressor)
    if kept:
        system = system_prompt(case, include_profile=True).replace(profile, kept)
    else:
        system = system_prompt(case, include_profile=False)
    if trajectory[0]["role"] != "system":
        raise ValueError(f"case {case.id}: gold trajectory does not start with a system message")
    return {"messages": [{"role": "system", "content": system}, *trajectory[1:]], "tools": tools, "id": case.id}


def _evaluator(config: ProfileConfig, tokenizer: Any, test: list[Any], held_out: dict[bool, list[dict]],
               parameters: int, out: Path, rows: list[dict], progress: Progress) -> Callable[[str, Any, bool], None]:
    """A function that runs one condition on the held-out instructions, keeps its row and reports it."""
    clock = time.perf_counter()

    def evaluate(name: str, student: Any, include_profile: bool) -> None:
        row = evaluate_condition(name, student, tokenizer, test, held_out[include_profile], include_profile,
                                 config.max_turns, config.max_new_tokens, out)
        row["first_turn_prompt_gflops"] = forward_flops(parameters, row["first_turn_prompt_tokens"]) / 1e9
        rows.append(row)
        progress(Event("evaluated", f"{name}: personal checks {row['personal_passed']}/{row['personal_decided']}, "
                       f"gold-position calls: name {row['call_name_accuracy']:.2f}, exact {row['call_exact_accuracy']:.2f}, "
                       f"arguments {row['argument_accuracy']:.2f}; first-turn prompt "
                       f"{row['first_turn_prompt_tokens']:.0f} tokens [{time.perf_counter() - clock:.0f} s]",
                       {k: v for k, v in row.items() if k != "call_details"}))

    return evaluate


def run_profile_experiment(config: ProfileConfig, load_student: TrainableLoader, progress: Progress = print_messages,
                           *, student: str | None = None, overwrite: bool = False,
                           student_adapter: str | Path | None = None) -> dict:
    """Profile internalized (SKIntern decay) vs profile in the prompt vs no profile, on held-out instructions.

    `student` names the student `load_student` loads; with the settings it keys the trained stages kept in
    the output directory (a rerun with other ones is refused unless `overwrite`). `student_adapter`, the
    adapter `load_student` merges in (if any), is copied into the internalized adapter, which serves on it."""
    from tooltune.sandbox.suite import builtin_suite

    compressor_path(config.compressor)
    train, test = split_cases(user_cases(builtin_suite(), config.user, config.apps), config.n_train, config.n_test,
                              config.seed, config.test_instructions)
    out = begin_experiment(config, student, overwrite)
    clock = time.perf_counter()
    progress(Event("split", f"user {config.user}: training instructions {[c.instruction.id for c in train]}, "
                   f"held out {[c.instruction.id for c in test]}", {"train": [c.id for c in train], "test": [c.id for c in test]}))
    model, tokenizer = load_student()
    compressor = make_compressor(config.compressor, model, tokenizer)
    if isinstance(compressor, SurprisalCompressor):
        compressor.prepare([profile_text(c) for c in train])
    schedule = config.schedule()
    plans = schedule.plans()
    progress(Event("schedule", schedule.describe(mean(compressor.count(profile_text(c)) for c in train)),
                   {"plans": [p.__dict__ for p in plans], "compressor": compressor.name}))
    datasets = [[stage_example(c, plan, compressor) for c in train] for plan in plans]
    (out / "stage_samples.json").write_text(json.dumps([d[0]["messages"][0]["content"] for d in datasets], indent=1))
    rows: list[dict] = []
    held_out = {True: [stage_example(c, plans[0], compressor) for c in test],
                False: [stage_example(c, plans[-1], compressor) for c in test]}
    evaluate = _evaluator(config, tokenizer, test, held_out, count_parameters(model), out, rows, progress)
    evaluate("untrained, profile in prompt", model, True)
    evaluate("untrained, no profile", model, False)
    train_conditions(config, load_student, (model, tokenizer), datasets, evaluate, student_adapter)
    report = {"config": config.model_dump(), "train": [c.id for c in train], "test": [c.id for c in test],
              "compressor": compressor.name, "results": rows, "seconds": time.perf_counter() - clock}
    write_profile_report(out, report, progress)
    return report


def train_conditions(config: ProfileConfig, load_student: TrainableLoader, loaded: tuple[Any, Any],
                     datasets: list[list[dict]], evaluate: Callable[[str, Any, bool], None],
                     student_adapter: str | Path | None = None) -> None:
    """The internalized student (the loaded model, stage by stage; its adapter records the user, and holds
    the adapter the student started from) and a fresh control trained as long on profile-free prompts."""
    model, tokenizer = loaded
    train_staged(model, tokenizer, datasets, config, metadata=adapter_metadata(config, student_adapter))
    if student_adapter is not None:
        shutil.copytree(student_adapter, Path(config.train_config("skintern").output_dir) / "adapter" / BASE_ADAPTER,
                        dirs_exist_ok=True)
    evaluate("profile internalized, no profile", model, False)
    evaluate("profile internalized, profile in prompt", model, True)
    del model, loaded
    control, _ = load_student()
    train_baseline(control, tokenizer, datasets[-1], config, "no_profile")
    evaluate("trained without profile, no profile", control, False)


def adapter_metadata(config: ProfileConfig, student_adapter: str | Path | None = None) -> dict[str, Any]:
    """Recorded with the internalized adapter: whose profile it holds, so that it serves that user with no
    profile in the prompt (`tooltune chat --adapter DIR`, `tooltune bench run --adapter DIR --no-profile`), and
    the adapter it was trained on top of (a copy inside it, merged first when it is loaded)."""
    stacked = {"base_adapter": BASE_ADAPTER} if student_adapter is not None else {}
    return {"user": config.user, "apps": list(config.apps), "profile_in_prompt": False, **stacked}


def write_profile_report(out: Path, report: dict, progress: Progress) -> None:
    """report.json and table.txt in the output directory; the table reported."""
    lines = [f"{'condition':<40} {'personal checks':>15} {'call name':>9} {'exact':>6} {'args':>6} "
             f"{'1st prompt tok':>14} {'GFLOPs':>8}"]
    for r in report["results"]:
        lines.append(f"{r['condition']:<40} {r['personal_passed']:>7}/{r['personal_decided']:<7} "
                     f"{r['call_name_accuracy']:>9.2f} {r['call_exact_accuracy']:>6.2f} {r['argument_accuracy']:>6.2f} "
                     f"{r['first_turn_prompt_tokens']:>14.0f} {r['first_turn_prompt_gflops']:>8.1f}")
    table = "\n".join(lines)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (out / "table.txt").write_text(table + "\n")
    progress(Event("table", table, {"results": report["results"]}))
