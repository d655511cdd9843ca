"""Settings that key cached results (compared on rerun) and the files a resume trusts (written whole)."""

from __future__ import annotations

import json

import pytest

from tooltune.errors import UsageError
from tooltune.atomic import read_json_lines, read_json_object, write_json_atomic, write_text_atomic
from tooltune.train.settings import (
    RunDirError,
    begin_run,
    changed_settings,
    check_run_dir,
    examples_digest,
    settings_error,
)


def test_changed_settings_names_every_differing_field_nested_ones_dotted() -> None:
    old = {"lr": 1e-4, "ranks": (4, 16), "citi": {"experts": 4, "r": 8}, "gone": 1}
    new = {"lr": 2e-4, "ranks": [4, 16], "citi": {"experts": 2, "r": 8}, "added": True}
    assert changed_settings(old, new) == ["lr: 0.0001 -> 0.0002", "citi.experts: 4 -> 2", "added: (none) -> true",
                                          "gone: 1 -> (none)"]
    assert changed_settings(new, json.loads(json.dumps(new))) == []


def test_a_run_dir_is_refused_only_where_results_of_other_settings_would_be_lost(tmp_path) -> None:
    run = tmp_path / "run"
    assert begin_run(run, {"lr": 1}, owned=["stage"]) is False
    assert check_run_dir(run, {"lr": 1}, owned=["stage"]) is True
    assert check_run_dir(run, {"lr": 2}, owned=["stage"]) is False  # nothing cached yet: the new settings win
    (run / "stage").mkdir()
    assert check_run_dir(run, {"lr": 2}, owned=["stage"]) is False  # an empty folder holds no results
    (run / "stage" / "stage_done.json").write_text("{}")
    with pytest.raises(RunDirError, match=r"lr: 1 -> 2.*--overwrite") as caught:
        check_run_dir(run, {"lr": 2}, owned=["stage"])
    assert isinstance(caught.value, UsageError)
    (run / "settings.json").write_text('{"lr": ')  # half-written
    with pytest.raises(RunDirError, match="settings.json is unreadable"):
        check_run_dir(run, {"lr": 1}, owned=["stage"])
    (run / "settings.json").unlink()
    with pytest.raises(RunDirError, match="without settings.json"):
        check_run_dir(run, {"lr": 1}, owned=["stage"])
    (run / "notes.txt").write_text("the user's own file")
    assert begin_run(run, {"lr": 2}, owned=["stage"], overwrite=True) is False
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt", "settings.json"]
    assert json.loads((run / "settings.json").read_text()) == {"lr": 2}
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunDirError, match="not a directory"):
        check_run_dir(tmp_path / "file", {"lr": 1})


def test_atomic_writes_leave_no_temporary_files_and_tolerant_reads(tmp_path) -> None:
    path = tmp_path / "a" / "marker.json"
    write_json_atomic(path, {"global_step": 3})
    write_text_atomic(tmp_path / "rows.jsonl", '{"stage": "a"}\n[1]\n{"stage": "b", "sco')
    assert read_json_object(path) == {"global_step": 3}
    assert read_json_lines(tmp_path / "rows.jsonl") == [{"stage": "a"}]
    assert [p.name for p in path.parent.iterdir()] == ["marker.json"]
    path.write_text('{"global_step": 3')
    assert read_json_object(path) is None and read_json_object(tmp_path / "missing.json") is None
    path.write_bytes(b"\xff\xfe")
    assert read_json_object(path) is None


def test_settings_error_names_the_option_and_the_digest_follows_the_data() -> None:
    from pydantic import BaseModel, Field, ValidationError

    class Knobs(BaseModel):
        learning_rate: float = Field(1.0, gt=0)

    with pytest.raises(ValidationError) as caught:
        Knobs(learning_rate=0)
    error = settings_error(caught.value, {"learning_rate": "--lr"})
    assert str(error).startswith("--lr: ") and error.exit_code == 2
    assert examples_digest([{"a": 1}]) == examples_digest([{"a": 1}]) != examples_digest([{"a": 2}])
