"""The O-LoRA CL_Benchmark folder layout loader, on a tiny generated folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tooltune.methods.continual.cl_benchmark import CLBenchmarkError, find_task_dirs, load_cl_task


def write_task(root: Path, group: str, name: str, rows: int) -> None:
    folder = root / group / name
    folder.mkdir(parents=True)
    for split in ("train", "dev", "test"):
        instances = [{"id": f"{name}-{split}-{i}", "input": f"{name} text {i}", "output": [f"label{i % 2}"]}
                     for i in range(rows)]
        payload = {"Definition": [f"Classify the {name} text."], "Positive Examples": [], "Instances": instances}
        (folder / f"{split}.json").write_text(json.dumps(payload))


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    write_task(tmp_path, "TC", "agnews", 5)
    write_task(tmp_path, "TC", "yahoo", 3)
    write_task(tmp_path, "NLI", "mnli", 2)
    return tmp_path


def test_finds_tasks_and_loads_examples(bench: Path) -> None:
    assert sorted(find_task_dirs(bench)) == ["NLI/mnli", "TC/agnews", "TC/yahoo"]
    train = load_cl_task(bench, "agnews", "train")
    assert len(train) == 5
    assert train[1]["messages"] == [
        {"role": "system", "content": "Classify the agnews text."},
        {"role": "user", "content": "agnews text 1"},
        {"role": "assistant", "content": "label1"},
    ]
    assert train[0]["tools"] == []
    assert len(load_cl_task(bench, "TC/yahoo", "test", limit=2)) == 2


def test_errors_name_the_problem(bench: Path) -> None:
    with pytest.raises(CLBenchmarkError, match="not found"):
        load_cl_task(bench, "dbpedia")
    with pytest.raises(CLBenchmarkError, match="split"):
        load_cl_task(bench, "agnews", "validation")
    (bench / "TC" / "agnews" / "dev.json").write_text(json.dumps({"Definition": [], "Instances": [{"output": "x"}]}))
    with pytest.raises(CLBenchmarkError, match=r"Instances\[0\].*input"):
        load_cl_task(bench, "agnews", "dev")
