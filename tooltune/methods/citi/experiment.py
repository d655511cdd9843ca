"""One command, one table: base model, plain LoRA, full fine-tuning and CITI trained on the same tool data
and scored the same way (tool-call accuracy on held-out conversations + retention of general ability).

Each method starts from a freshly loaded model and writes `OUT/<method>/result.json`; a rerun with the same
settings, model and data (`OUT/settings.json`) skips methods that already have a result and resumes an
interrupted one from its checkpoints; a rerun with other ones is refused unless asked to start afresh.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from tooltune.adapters import TARGET_MODULES, LoRAConfig, inject_adapters, save_adapter
from tooltune.methods.citi.config import CITISettings, CompareSettings
from tooltune.methods.citi.method import train_citi
from tooltune.methods.citi.metrics import retention_check
from tooltune.models.registry import TrainableLoader, load_trainable
from tooltune.train import Stage, TrainConfig, train_stages
from tooltune.atomic import read_json_object, write_json_atomic, write_text_atomic
from tooltune.train.data import Example, cut_after_tool_calls, sample_examples
from tooltune.train.eval import tool_call_accuracy
from tooltune.train.settings import begin_run, check_run_dir, examples_digest

METHODS = ("base", "lora", "full", "citi")
OWNED = ("results.json", "table.md", *METHODS)
"""What a comparison writes in its directory besides settings.json (all that --overwrite removes)."""


def load_model_spec(spec: str) -> TrainableLoader:
    """A loader of fresh (model, tokenizer) pairs for any local model spec of `tooltune.models.registry`
    ("smollm2" or a checkpoint directory)."""
    return lambda: load_trainable(spec)


def prepare_examples(examples: Sequence[Example], calls_per_example: int = 0, limit: int | None = None,
                     seed: int = 0) -> list[Example]:
    """Optionally cut each conversation after its first `calls_per_example` tool-calling turns (0: keep all),
    then draw a seeded random subset of `limit` examples (in their original order)."""
    rows = list(examples)
    if calls_per_example > 0:
        rows = [cut for e in rows if (cut := cut_after_tool_calls(e, calls_per_example)) is not None]
    return sample_examples(rows, limit, seed)


def train_config(settings: CompareSettings, output_dir: Path, learning_rate: float) -> TrainConfig:
    return TrainConfig(output_dir=str(output_dir), epochs=settings.epochs, learning_rate=learning_rate,
                       batch_size=settings.batch_size, grad_accum=settings.grad_accum, max_length=settings.max_length,
                       seed=settings.seed, logging_steps=5, save_total_limit=1, bf16=settings.bf16,
                       max_steps=settings.max_steps)


def citi_settings_for(settings: CompareSettings) -> CITISettings:
    """CITI's stage epochs scaled so its MoLoRA stages together get `epochs`, like the other methods."""
    e1, e2, e3 = settings.citi.stage_epochs
    scale = settings.epochs / (e1 + e2)
    return settings.citi.model_copy(update={"stage_epochs": (e1 * scale, e2 * scale, e3 * scale),
                                            "importance_max_length": settings.max_length})


def train_method(method: str, model: nn.Module, tokenizer: Any, train: Sequence[Example], out: Path,
                 settings: CompareSettings) -> dict[str, Any]:
    """Train `model` in place with one method; return facts about what was trained."""
    if method == "base":
        return {"trainable_parameters": 0}
    if method == "lora":
        config = LoRAConfig(target_modules=list(TARGET_MODULES), r=settings.lora_r, alpha=settings.lora_alpha)
        inject_adapters(model, config, seed=settings.seed)
        results = train_stages(model, tokenizer, [Stage("lora", train)], train_config(settings, out, settings.adapter_lr))
        save_adapter(model, out / "adapter", metadata={"method": "lora"})
        return {"trainable_parameters": results[0].trainable_parameters, "train_loss": results[-1].train_loss}
    if method == "full":
        results = train_stages(model, tokenizer, [Stage("full", train, trainable=lambda name: True)],
                               train_config(settings, out, settings.full_lr))
        return {"trainable_parameters": results[0].trainable_parameters, "train_loss": results[-1].train_loss}
    if method == "citi":
        citi = citi_settings_for(settings)
        result = train_citi(model, tokenizer, train, train_config(settings, out, citi.stage_learning_rates[0]), citi)
        return {"trainable_parameters": max(s.trainable_parameters for s in result.stages),
                "train_loss": result.stages[-1].train_loss, "molora_modules": len(result.plan.molora_modules),
                "full_tune_modules": result.plan.full_tune_modules}
    raise ValueError(f"method must be one of {METHODS}, got {method!r}")


ROW_NUMBERS = ("exact_accuracy", "name_accuracy", "no_call_rate", "general_perplexity", "cloze_accuracy",
               "trainable_parameters", "train_seconds", "positions", "cloze_items")
"""What a result row holds besides its method (what the table shows)."""


def complete_row(row: dict[str, Any], method: str) -> bool:
    """Whether a cached result row is whole: this method's, with every number the table shows."""
    return row.get("method") == method and all(
        isinstance(row.get(key), (int, float)) and not isinstance(row.get(key), bool) for key in ROW_NUMBERS)


def run_method(method: str, load: TrainableLoader, train: Sequence[Example], evaluate: Sequence[Example], out_dir: Path,
               settings: CompareSettings) -> dict[str, Any]:
    """Train (unless base) and score one method; cached in `out_dir/method/result.json` (a damaged one counts
    as missing: the method resumes from its finished stages and is scored again)."""
    out = out_dir / method
    done = out / "result.json"
    cached = read_json_object(done)
    if cached is not None and complete_row(cached, method):
        return cached
    out.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load()
    started = time.perf_counter()
    facts = train_method(method, model, tokenizer, train, out, settings)
    trained = time.perf_counter()
    tools = tool_call_accuracy(model, tokenizer, evaluate, batch_size=settings.eval_batch_size,
                               max_new_tokens=settings.eval_max_new_tokens)
    retention = retention_check(model, tokenizer, window=settings.retention_window,
                                max_windows=settings.retention_windows, cloze_count=settings.cloze_items,
                                seed=settings.seed)
    row = {"method": method, **tools.summary(), **retention.summary(), **facts,
           "train_seconds": round(trained - started, 1), "eval_seconds": round(time.perf_counter() - trained, 1)}
    write_text_atomic(out / "tool_calls.jsonl", "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in tools.details))
    write_json_atomic(done, row)
    return row


def comparison_key(settings: CompareSettings, train: Sequence[Example], evaluate: Sequence[Example],
                   model: str | None = None) -> dict[str, Any]:
    """What the cached results of a comparison depend on: the model, the data and every setting."""
    return {"model": model, "train_examples": examples_digest(train), "eval_examples": examples_digest(evaluate),
            **settings.model_dump()}


def check_comparison_dir(out_dir: str | Path, settings: CompareSettings, train: Sequence[Example],
                         evaluate: Sequence[Example], model: str | None = None, overwrite: bool = False) -> bool:
    """Refuse (RunDirError naming the fields) a directory holding another comparison's results; True when
    resuming one of the same settings. Writes nothing."""
    return check_run_dir(out_dir, comparison_key(settings, train, evaluate, model), owned=OWNED, overwrite=overwrite)


def compare_methods(methods: Sequence[str], load: TrainableLoader, train: Sequence[Example],
                    evaluate: Sequence[Example], out_dir: str | Path, settings: CompareSettings | None = None,
                    *, model: str | None = None, overwrite: bool = False) -> list[dict[str, Any]]:
    """Run the methods in order; write `results.json` and `table.md` in `out_dir`.

    `model` names the model `load` loads (part of what the cached results depend on); `overwrite` removes an
    earlier comparison's results in `out_dir` instead of refusing them when its settings differ.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ValueError(f"methods: unknown {unknown}; choose from {METHODS}")
    settings = settings or CompareSettings()
    out = Path(out_dir)
    begin_run(out, comparison_key(settings, train, evaluate, model), owned=OWNED, overwrite=overwrite)
    rows = [run_method(m, load, train, evaluate, out, settings) for m in methods]
    write_json_atomic(out / "results.json", rows)
    write_text_atomic(out / "table.md", results_table(rows))
    return rows


def results_table(rows: Sequence[dict[str, Any]]) -> str:
    """Markdown table of the comparison."""
    lines = ["| method | tool call exact | tool name | no call | general ppl | cloze acc | trainable params | "
             "train s |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['method']} | {r['exact_accuracy']:.3f} | {r['name_accuracy']:.3f} | "
                     f"{r['no_call_rate']:.3f} | {r['general_perplexity']:.2f} | {r['cloze_accuracy']:.3f} | "
                     f"{r['trainable_parameters']:,} | {r['train_seconds']:.0f} |")
    n = rows[0]["positions"] if rows else 0
    cloze = rows[0]["cloze_items"] if rows else 0
    lines.append(f"\n{n} held-out tool-calling positions; cloze: {cloze} four-way items (chance 0.25).\n")
    return "\n".join(lines)
