"""The durable log of a run: one SQLite file (WAL, synchronous=FULL) in the run directory.

Finished episodes are committed in transactions (one row, or a group: all of them or none), so a run killed
at any moment leaves a valid file holding exactly the episodes that finished; `--resume` reruns the rest.
The same file caches judge
verdicts by (case, trajectory hash, judge model), so re-scoring never asks a judge twice.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tooltune.bench.episode import EpisodeKey, EpisodeRecord
from tooltune.errors import UsageError

DB_NAME = "episodes.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS episodes (
    id TEXT PRIMARY KEY, case_id TEXT NOT NULL, strategy TEXT NOT NULL, setting TEXT NOT NULL,
    trial INTEGER NOT NULL, status TEXT NOT NULL CHECK (status IN ('done', 'error')),
    record TEXT, error TEXT, finished_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS judgments (
    cache_key TEXT PRIMARY KEY, case_id TEXT NOT NULL, trajectory_hash TEXT NOT NULL, judge TEXT NOT NULL,
    verdict TEXT NOT NULL, created_at REAL NOT NULL
);
"""


class RunStoreError(UsageError, RuntimeError):
    """The run directory cannot be used as asked (exists without --resume, unreadable log, in use...)."""


class RunStore:
    """Append-only episode log plus judge cache for one run directory.

    `create=False` opens an existing log only (re-scoring): a missing or unreadable file is a `RunStoreError`.
    """

    def __init__(self, run_dir: str | Path, *, create: bool = True) -> None:
        self.run_dir = Path(run_dir)
        self.path = self.run_dir / DB_NAME
        if not create and not self.path.is_file():
            raise RunStoreError(f"{self.path} is missing: {self.run_dir} holds no episode log to re-score")
        if create:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            # autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT in _transaction)
            # one connection shared by the runner's worker threads; every use holds the lock
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as error:
            raise self._error(error) from None
        try:
            if create:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(_SCHEMA)
            else:  # opening changes nothing in the file: a log that is not whole is refused as it is
                tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                missing = sorted({"meta", "episodes", "judgments"} - tables)
                if missing:
                    raise RunStoreError(f"{self.path} has no {', '.join(missing)} table: not a whole tooltune run log")
            self._db.execute("PRAGMA synchronous=FULL")
        except (sqlite3.Error, RunStoreError) as error:
            self._db.close()
            raise self._error(error) from None

    def _error(self, error: Exception) -> RunStoreError:
        if isinstance(error, RunStoreError):
            return error
        return RunStoreError(f"{self.path}: unreadable run log ({error})")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction: everything written inside it is committed together, or rolled back together."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                raise self._error(error) from error

    # -- run metadata -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> Any | None:
        rows = self._rows("SELECT value FROM meta WHERE key = ?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: Any) -> None:
        with self._transaction():
            self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    # -- episodes ---------------------------------------------------------------------------------
    def write_episode(self, record: EpisodeRecord) -> None:
        """Commit one finished episode (replaces an earlier failed attempt of the same key)."""
        self.write_episodes([record])

    def write_episodes(self, records: list[EpisodeRecord]) -> None:
        """Commit finished episodes in one transaction: all of them are stored, or none."""
        rows = [(r.key, "done", json.dumps(r.to_dict(), ensure_ascii=False, default=str), None) for r in records]
        self._write_rows(rows)

    def write_failure(self, key: EpisodeKey, error: str) -> None:
        """Commit an episode that could not finish (model error); `--resume` retries it."""
        self._write(key, "error", None, error)

    def _write(self, key: EpisodeKey, status: str, record: str | None, error: str | None) -> None:
        self._write_rows([(key, status, record, error)])

    def _write_rows(self, rows: list[tuple[EpisodeKey, str, str | None, str | None]]) -> None:
        now = time.time()
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO episodes (id, case_id, strategy, setting, trial, status, record, error,"
                " finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(k.id, k.case_id, k.strategy, k.setting, k.trial, status, record, error, now)
                 for k, status, record, error in rows],
            )

    def _rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as error:
                raise self._error(error) from error

    def done_ids(self) -> set[str]:
        return {row[0] for row in self._rows("SELECT id FROM episodes WHERE status = 'done'")}

    def failures(self) -> dict[str, str]:
        return dict(self._rows("SELECT id, error FROM episodes WHERE status = 'error'"))  # type: ignore[arg-type]

    def records(self) -> Iterator[EpisodeRecord]:
        """Finished episodes in a stable order."""
        for episode, text in self._rows("SELECT id, record FROM episodes WHERE status = 'done' ORDER BY id"):
            try:
                yield EpisodeRecord.from_dict(json.loads(text))
            except (TypeError, ValueError, KeyError) as error:
                raise RunStoreError(f"{self.path}: episode {episode}: unreadable record ({error})") from None

    def count(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM episodes WHERE status = 'done'")[0][0])

    # -- judge cache ------------------------------------------------------------------------------
    def cached_verdict(self, cache_key: str) -> dict[str, Any] | None:
        rows = self._rows("SELECT verdict FROM judgments WHERE cache_key = ?", (cache_key,))
        if not rows:
            return None
        try:
            return json.loads(rows[0][0])
        except ValueError as error:
            raise RunStoreError(f"{self.path}: cached verdict {cache_key[:12]}: not JSON ({error})") from None

    def cache_verdict(self, cache_key: str, case_id: str, trajectory_hash: str, judge: str, verdict: dict) -> None:
        with self._transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO judgments (cache_key, case_id, trajectory_hash, judge, verdict, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (cache_key, case_id, trajectory_hash, judge, json.dumps(verdict, ensure_ascii=False), time.time()),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
