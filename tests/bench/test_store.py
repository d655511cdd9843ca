"""The run log: transactions that hold what they promise, and clear errors for a damaged or missing file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tooltune.bench.episode import EpisodeKey, EpisodeRecord
from tooltune.bench.store import RunStore, RunStoreError


def record(case_id: str) -> EpisodeRecord:
    return EpisodeRecord(key=EpisodeKey(case_id, "fc", "given", 0), user_id="u", apps=["music"], trajectory=[],
                         calls=[], malformed=[], turns=1, finish_reason="answer", offered_tools=[], prompt_tokens=0,
                         completion_tokens=0, seconds=0.0)


def test_a_group_commit_stores_all_of_its_rows_or_none(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    good = (EpisodeKey("a@u", "fc", "given", 0), "done", '{"x": 1}', None)
    bad = (EpisodeKey("b@u", "fc", "given", 0), "lost", None, None)  # the status CHECK constraint refuses it
    with pytest.raises(RunStoreError):
        store._write_rows([good, bad])
    assert store.count() == 0 and store.done_ids() == set()
    store.write_episodes([record("a@u"), record("b@u")])
    assert store.done_ids() == {"a@u|fc|given|0", "b@u|fc|given|0"}
    store.close()


def test_an_existing_log_is_opened_not_created(tmp_path: Path) -> None:
    with pytest.raises(RunStoreError, match="episodes.sqlite is missing"):
        RunStore(tmp_path, create=False)
    assert not (tmp_path / "episodes.sqlite").exists()
    (tmp_path / "episodes.sqlite").write_bytes(b"\x00not sqlite at all" * 64)
    with pytest.raises(RunStoreError, match="unreadable run log"):
        RunStore(tmp_path, create=False)
    (tmp_path / "episodes.sqlite").write_bytes(b"")  # SQLite reads an empty file as an empty database
    with pytest.raises(RunStoreError, match="no episodes, judgments, meta table"):
        RunStore(tmp_path, create=False)


def test_a_damaged_record_is_an_error_naming_the_episode(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store._write_rows([(EpisodeKey("a@u", "fc", "given", 0), "done", '{"key": 5}', None)])
    with pytest.raises(RunStoreError, match=r"episode a@u\|fc\|given\|0: unreadable record"):
        list(store.records())
    store.close()
