"""Files a resumed run trusts (stage markers, stage weights, results, score rows, settings, a benchmark's
scores and reports) are written whole or not at all: into a temporary file with a unique name beside the target, then renamed over it.

A reader that still finds a half-written file (a crash of an older version, a disk filled up, an edit by
hand) gets None from `read_json_object`, and treats the step it marks as not done.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a fresh temporary path beside `path`; when the block ends without error it replaces `path`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def write_atomic(path: str | Path, write: Callable[[Path], Any]) -> Path:
    """Call `write(temporary_path)`, then move the result over `path` in one step."""
    with replacing(path) as temporary:
        write(temporary)
    return Path(path)


def write_stream_atomic(path: str | Path, write: Callable[[IO[str]], Any], newline: str | None = None) -> Path:
    """Call `write(handle)` on a UTF-8 text handle (`newline` as for `open`), then move the file over `path`."""
    def fill(temporary: Path) -> None:
        with open(temporary, "w", encoding="utf-8", newline=newline) as handle:
            write(handle)

    return write_atomic(path, fill)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Replace `path` with `text` (UTF-8) in one step."""
    return write_atomic(path, lambda temporary: temporary.write_text(text, encoding="utf-8"))


def write_json_atomic(path: str | Path, data: Any, indent: int | None = 1) -> Path:
    """Replace `path` with `data` as JSON in one step."""
    return write_text_atomic(path, json.dumps(data, indent=indent, ensure_ascii=False) + "\n")


def read_json_object(path: str | Path) -> dict[str, Any] | None:
    """The JSON object stored at `path`; None when the file is missing, unreadable, half-written or not an object."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def read_json_lines(path: str | Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON-lines file, skipping lines that are not one (a half-written last row)."""
    try:
        text = Path(path).read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return []
    rows = []
    for line in text.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict):
            rows.append(row)
    return rows
