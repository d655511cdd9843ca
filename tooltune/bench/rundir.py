"""A run directory's files and guards: one writer at a time (a lock file) and what may be written where.

Every writer (`bench run`, `bench judge`, `bench report`) holds an exclusive `fcntl.flock` on `.lock` inside
the run directory for as long as it writes; a second writer gets a `RunLockedError` at once. Files that
resume or re-scoring read are replaced atomically (`tooltune.atomic`).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import IO, Any

from tooltune.bench.scores import JUDGE_DIMENSIONS
from tooltune.bench.store import RunStoreError

CONFIG_NAME = "config.json"
JUDGMENTS = "judgments.json"
LOCK_NAME = ".lock"


class RunLockedError(RunStoreError):
    """Another process is writing to the run directory."""


def holds_nothing(run_dir: Path) -> bool:
    """True for a missing directory or one holding nothing but a lock file (a start-up that was cut short)."""
    return not run_dir.exists() or all(p.name == LOCK_NAME for p in run_dir.iterdir())


class RunLock:
    """Exclusive lock of a run directory (created if missing); `discard()` undoes a start-up that failed."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.path = run_dir / LOCK_NAME
        self._created_dir = False
        self._handle: IO[str] | None = None

    def __enter__(self) -> RunLock:
        if self.run_dir.exists() and not self.run_dir.is_dir():
            raise RunStoreError(f"{self.run_dir} is a file, not a run directory")
        try:
            self._created_dir = not self.run_dir.exists()
            self.run_dir.mkdir(parents=True, exist_ok=True)
            handle = self.path.open("a+", encoding="utf-8")
        except OSError as error:
            raise RunStoreError(f"{self.run_dir}: cannot create the run directory ({error.strerror or error})"
                                ) from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunLockedError(f"{self.run_dir} is in use by another tooltune process (pid {holder}); "
                                 "wait for it to finish or choose another directory") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle
        return self

    def discard(self) -> None:
        """Remove the lock file, and the directory when this lock created it and nothing else was written."""
        self.path.unlink(missing_ok=True)
        if self._created_dir and holds_nothing(self.run_dir):
            self.run_dir.rmdir()
            self._created_dir = False

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def read_judgments(path: Path) -> dict[str, dict[str, Any]]:
    """Saved verdicts (episode id -> verdict); a damaged file is an error naming it, never silently dropped."""
    hint = "re-create it with `tooltune bench judge RUN --judge MODEL` or move it away"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RunStoreError(f"{path}: unreadable ({error}); {hint}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise RunStoreError(f"{path}: expected an object of episode id -> verdict object; {hint}")
    for episode, verdict in data.items():
        bad = [d for d in JUDGE_DIMENSIONS if "error" not in verdict and not _score(verdict.get(d))]
        if bad:
            raise RunStoreError(f"{path}: {episode}: {bad[0]} is not a score ({verdict.get(bad[0])!r}); {hint}")
    return data


def _score(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))
