"""The CL_Benchmark loader on folders in the release layout: built in tmp_path, and the slice in ../shared."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tooltune.methods.continual.cl_benchmark import (
    CLBenchmarkError,
    find_task_dirs,
    load_cl_task,
    read_cl_items,
)

SLICE = Path(__file__).resolve().parents[2] / ".." / "shared" / "cl_benchmark"
needs_slice = pytest.mark.skipif(not (SLICE / "CL_Benchmark").is_dir(),
                                 reason=f"CL_Benchmark slice not found at {SLICE} (the data is never copied into the repo)")


def write_task(root: Path, group: str, name: str, labels: list[str], rows: int) -> None:
    """One task in the release layout: JSON lists of {"sentence", "label"} and a labels.json."""
    folder = root / "CL_Benchmark" / group / name
    folder.mkdir(parents=True)
    (folder / "labels.json").write_text(json.dumps(labels))
    for split in ("train", "dev", "test"):
        data = [{"sentence": f"{name} {split} text {i}\n", "label": labels[i % len(labels)]} for i in range(rows)]
        (folder / f"{split}.json").write_text(json.dumps(data))


def write_instructions(root: Path, groups: dict[str, str]) -> None:
    (root / "configs").mkdir(exist_ok=True)
    config = {g: [{"instruction_type": "zero-shot", "instruction": text}] for g, text in groups.items()}
    (root / "configs" / "instruction_config.json").write_text(json.dumps(config))


@pytest.fixture
def release(tmp_path: Path) -> Path:
    write_task(tmp_path, "TC", "agnews", ["World", "Sports"], 5)
    write_task(tmp_path, "SC", "yelp", ["negative", "positive"], 3)
    write_instructions(tmp_path, {"TC": "What is the topic? Choose one from the option.\n",
                                  "SC": "What is the sentiment? Choose one from the option.\n"})
    return tmp_path


def test_rows_become_instruction_options_sentence_to_label(release: Path) -> None:
    assert sorted(find_task_dirs(release)) == ["SC/yelp", "TC/agnews"]
    train = load_cl_task(release, "agnews", "train")
    assert len(train) == 5 and train[0]["tools"] == []
    assert train[1]["messages"] == [
        {"role": "user", "content": "What is the topic? Choose one from the option.\nOption: World, Sports\n"
                                    "agnews train text 1\nAnswer:"},
        {"role": "assistant", "content": "Sports"},
    ]
    items = read_cl_items(release / "CL_Benchmark", "SC/yelp", "test", limit=2)  # the data folder itself also works
    assert [i.label for i in items] == ["negative", "positive"] and items[0].options == ("negative", "positive")


def test_a_group_the_loader_has_never_seen_reads_by_the_same_code(release: Path) -> None:
    write_task(release, "WiC", "WiC", ["false", "true"], 4)
    write_instructions(release, {"TC": "t\n", "SC": "s\n", "WiC": "Same sense in both sentences?\n"})
    [first] = load_cl_task(release, "WiC", "dev", limit=1)
    assert first["messages"][0]["content"].startswith("Same sense in both sentences?\nOption: false, true\n")
    assert first["messages"][1]["content"] == "false"


def test_errors_name_the_file_and_field(release: Path) -> None:
    with pytest.raises(CLBenchmarkError, match="not found"):
        load_cl_task(release, "dbpedia")
    with pytest.raises(CLBenchmarkError, match="split"):
        load_cl_task(release, "agnews", "validation")
    folder = release / "CL_Benchmark" / "TC" / "agnews"
    (folder / "dev.json").write_text(json.dumps([{"sentence": "x", "label": "Weather"}]))
    with pytest.raises(CLBenchmarkError, match=r"dev.json: row 0: field 'label' 'Weather' is not in labels.json"):
        load_cl_task(release, "agnews", "dev")
    (folder / "dev.json").write_text(json.dumps([{"label": "World"}]))
    with pytest.raises(CLBenchmarkError, match=r"row 0: field 'sentence'"):
        load_cl_task(release, "agnews", "dev")
    (folder / "dev.json").write_text(json.dumps({"Definition": [], "Instances": []}))
    with pytest.raises(CLBenchmarkError, match="expected a JSON list"):
        load_cl_task(release, "agnews", "dev")
    write_task(release, "NLI", "mnli", ["yes", "no"], 1)
    with pytest.raises(CLBenchmarkError, match="no instructions for group 'NLI'"):
        load_cl_task(release, "mnli")


@needs_slice
def test_the_shared_slice_loads_every_task() -> None:
    for name, options in [("dbpedia", 14), ("amazon", 5), ("agnews", 4), ("yelp", 5)]:
        items = read_cl_items(SLICE, name, "test", limit=3)
        assert len(items) == 3 and len(items[0].options) == options
        assert all(i.label in i.options and "Choose one from the option." in i.instruction for i in items)
    assert len(load_cl_task(SLICE, "TC/agnews", "train")) == 1000
