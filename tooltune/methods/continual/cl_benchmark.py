"""Loader for O-LoRA's `CL_Benchmark` release, in its own layout (the benchmark DATA evaluates on).

Layout: `CL_Benchmark/<group>/<task>/{train,dev,test}.json`, each a JSON list of {"sentence", "label"};
`labels.json` beside them (the task's label options); `configs/instruction_config.json` beside
`CL_Benchmark/` (the zero-shot instruction of each group: TC, SC, NLI, ...). A row becomes one prompt,
group instruction + label options + sentence, whose answer is the label. Every group is read by the same code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooltune.errors import UsageError
from tooltune.train.data import Example

SPLITS = ("train", "dev", "test")
DATA_DIR = "CL_Benchmark"
INSTRUCTIONS = Path("configs") / "instruction_config.json"


class CLBenchmarkError(UsageError):
    """A CL_Benchmark folder or file is not in the release layout; the message names the path and field."""


@dataclass(frozen=True)
class CLItem:
    """One classification row with what the prompt needs: the group's instruction and the label options."""

    sentence: str
    label: str
    instruction: str
    options: tuple[str, ...]

    def prompt(self) -> str:
        """Instruction, options and sentence, as the release prompts the model (the answer is the label)."""
        return f"{self.instruction.rstrip()}\nOption: {', '.join(self.options)}\n{self.sentence.strip()}\nAnswer:"

    def as_example(self) -> Example:
        """The row as an SFT example: the prompt as user turn, the label as assistant turn, no tools."""
        return {"messages": [{"role": "user", "content": self.prompt()},
                             {"role": "assistant", "content": self.label}], "tools": []}


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CLBenchmarkError(f"{path}: not valid JSON ({exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise CLBenchmarkError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise CLBenchmarkError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from exc


def data_root(root: str | Path) -> Path:
    """The `CL_Benchmark` folder: `root` itself or its `CL_Benchmark` child."""
    base = Path(root)
    if (base / DATA_DIR).is_dir():
        base = base / DATA_DIR
    if not base.is_dir():
        raise CLBenchmarkError(f"CL benchmark root {root} is not a directory")
    return base


def find_task_dirs(root: str | Path) -> dict[str, Path]:
    """Task name ("TC/agnews") -> folder, for every folder under the data root holding a `labels.json`."""
    base = data_root(root)
    return {p.parent.relative_to(base).as_posix(): p.parent for p in sorted(base.rglob("labels.json"))}


def resolve_task(root: str | Path, name: str) -> Path:
    """The folder of task `name`: "group/task" or an unambiguous task name ("agnews")."""
    tasks = find_task_dirs(root)
    if name in tasks:
        return tasks[name]
    matches = [p for key, p in tasks.items() if key.rsplit("/", 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CLBenchmarkError(f"task {name!r} not found under {root} (known: {sorted(tasks)[:20]})")
    raise CLBenchmarkError(f"task {name!r} is ambiguous under {root}: {[str(m) for m in matches]}")


def group_instruction(root: str | Path, group: str) -> str:
    """The zero-shot instruction of `group` from `configs/instruction_config.json` beside the data folder."""
    base = data_root(root)
    path = base.parent / INSTRUCTIONS
    if not path.is_file():
        raise CLBenchmarkError(f"no {INSTRUCTIONS} beside {base} (the release keeps the group instructions there)")
    config = _read_json(path)
    entries = config.get(group) if isinstance(config, dict) else None
    if not isinstance(entries, list):
        raise CLBenchmarkError(f"{path}: no instructions for group {group!r}")
    for entry in entries:
        if isinstance(entry, dict) and entry.get("instruction_type", "zero-shot") == "zero-shot" \
                and isinstance(entry.get("instruction"), str):
            return entry["instruction"]
    raise CLBenchmarkError(f"{path}: group {group!r} has no zero-shot 'instruction' string")


def read_labels(folder: Path) -> tuple[str, ...]:
    """The task's label options, from its `labels.json` (a non-empty JSON list of strings)."""
    labels = _read_json(folder / "labels.json")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise CLBenchmarkError(f"{folder / 'labels.json'}: expected a non-empty JSON list of label strings")
    return tuple(labels)


def read_rows(path: Path, options: tuple[str, ...], limit: int | None) -> list[tuple[str, str]]:
    """(sentence, label) of the first `limit` rows of one split file; each label must be one of `options`."""
    rows = _read_json(path)
    if not isinstance(rows, list):
        raise CLBenchmarkError(f"{path}: expected a JSON list of {{\"sentence\", \"label\"}} rows")
    out = []
    for index, row in enumerate(rows[:limit] if limit is not None else rows):
        for field in ("sentence", "label"):
            if not isinstance(row, dict) or not isinstance(row.get(field), str):
                raise CLBenchmarkError(f"{path}: row {index}: field {field!r} must be a string")
        if row["label"] not in options:
            raise CLBenchmarkError(f"{path}: row {index}: field 'label' {row['label']!r} is not in labels.json")
        out.append((row["sentence"], row["label"]))
    return out


def read_cl_items(root: str | Path, name: str, split: str = "train", limit: int | None = None) -> list[CLItem]:
    """The first `limit` rows of one task's split as typed items (instruction and options attached)."""
    if split not in SPLITS:
        raise CLBenchmarkError(f"split must be one of {SPLITS}, got {split!r}")
    if limit is not None and limit < 0:
        raise CLBenchmarkError(f"limit must be >= 0, got {limit}")
    folder = resolve_task(root, name)
    path = folder / f"{split}.json"
    if not path.is_file():
        raise CLBenchmarkError(f"task {name!r} has no {split}.json in {folder}")
    group = folder.relative_to(data_root(root)).parts[0]
    instruction, options = group_instruction(root, group), read_labels(folder)
    return [CLItem(s, label, instruction, options) for s, label in read_rows(path, options, limit)]


def load_cl_task(root: str | Path, name: str, split: str = "train", limit: int | None = None) -> list[Example]:
    """One task's split as SFT examples (prompt -> label), for the continual loop or any trainer."""
    return [item.as_example() for item in read_cl_items(root, name, split, limit)]
