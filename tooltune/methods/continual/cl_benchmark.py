"""Loader for the public continual-learning benchmark layout of O-LoRA's `CL_Benchmark` folder.

Layout: one folder per task (possibly nested in a group folder, e.g. `CL_Benchmark/TC/agnews/`) holding
`train.json`, `dev.json` and `test.json`, each {"Definition": [str, ...], "Instances": [{"input": str,
"output": str | [str, ...]}, ...]}. Each instance becomes an SFT example: the definition as system
message, the input as user message, the (first) output as the assistant answer, no tools.
"""

from __future__ import annotations

import json
from pathlib import Path

from tooltune.errors import UsageError
from tooltune.train.data import Example

SPLITS = ("train", "dev", "test")


class CLBenchmarkError(UsageError):
    """A CL_Benchmark folder or file is not in the expected layout; the message names the path and field."""


def find_task_dirs(root: str | Path) -> dict[str, Path]:
    """Task name -> folder for every folder under `root` that holds a train/dev/test JSON file.

    Names are the folder path relative to `root` ("TC/agnews"); the last component alone also works
    when it is unambiguous.
    """
    base = Path(root)
    if not base.is_dir():
        raise CLBenchmarkError(f"CL benchmark root {root} is not a directory")
    found = {}
    for path in sorted(base.rglob("*.json")):
        if path.stem in SPLITS:
            found[path.parent.relative_to(base).as_posix()] = path.parent
    return found


def resolve_task(root: str | Path, name: str) -> Path:
    """The folder of task `name` (relative path or unambiguous last component)."""
    tasks = find_task_dirs(root)
    if name in tasks:
        return tasks[name]
    matches = [p for key, p in tasks.items() if key.rsplit("/", 1)[-1] == name]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise CLBenchmarkError(f"task {name!r} not found under {root} (known: {sorted(tasks)[:20]})")
    raise CLBenchmarkError(f"task {name!r} is ambiguous under {root}: {[str(m) for m in matches]}")


def _instance_output(output: object, where: str) -> str:
    if isinstance(output, list) and output and all(isinstance(o, str) for o in output):
        return output[0]
    if isinstance(output, str):
        return output
    raise CLBenchmarkError(f"{where}: field 'output' must be a string or a non-empty list of strings")


def load_split(path: str | Path, limit: int | None = None) -> list[Example]:
    """SFT examples of one split file (at most `limit`, in file order)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CLBenchmarkError(f"{path}: not valid JSON ({exc.msg})") from exc
    except UnicodeDecodeError as exc:
        raise CLBenchmarkError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise CLBenchmarkError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from exc
    if not isinstance(data, dict):
        raise CLBenchmarkError(f"{path}: expected a JSON object with 'Definition' and 'Instances'")
    definition = data.get("Definition", [])
    if isinstance(definition, str):
        definition = [definition]
    if not isinstance(definition, list) or not all(isinstance(d, str) for d in definition):
        raise CLBenchmarkError(f"{path}: field 'Definition' must be a list of strings")
    instances = data.get("Instances")
    if not isinstance(instances, list):
        raise CLBenchmarkError(f"{path}: field 'Instances' must be a list")
    system = "\n".join(definition).strip()
    examples: list[Example] = []
    for index, instance in enumerate(instances[:limit] if limit is not None else instances):
        where = f"{path}: Instances[{index}]"
        if not isinstance(instance, dict) or not isinstance(instance.get("input"), str):
            raise CLBenchmarkError(f"{where}: field 'input' must be a string")
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": instance["input"]},
            {"role": "assistant", "content": _instance_output(instance.get("output"), where)},
        ]
        examples.append({"messages": messages, "tools": []})
    return examples


def load_cl_task(root: str | Path, name: str, split: str = "train", limit: int | None = None) -> list[Example]:
    """One task's split as SFT examples."""
    if split not in SPLITS:
        raise CLBenchmarkError(f"split must be one of {SPLITS}, got {split!r}")
    path = resolve_task(root, name) / f"{split}.json"
    if not path.is_file():
        raise CLBenchmarkError(f"task {name!r} has no {split}.json in {path.parent}")
    return load_split(path, limit)
