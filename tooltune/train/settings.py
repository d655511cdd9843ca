"""The settings that define a run's cached results: saved beside them, compared on every rerun.

A rerun in the same directory with the same settings resumes; with other settings it is refused, naming the
fields that differ, because the cached stages, scores and results are the old settings' own. A directory
whose results are not yet written takes the new settings; `--overwrite` starts afresh (removing only what the
run itself writes). Everything here reads; only `begin_run` writes.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tooltune.errors import UsageError
from tooltune.atomic import write_json_atomic

SETTINGS_FILE = "settings.json"
SEED_MAX = 2**32 - 1
"""The largest seed: the trainer seeds numpy too, whose seeds are 32-bit."""
RETRY_HINT = "rerun with the same options to resume, or add --overwrite to start afresh"
_MISSING = object()


class RunDirError(UsageError):
    """An output directory cannot be used as asked (other settings, an unreadable settings file, files of
    another run); the message names the directory or file and the fields."""


class SettingsError(UsageError):
    """A setting is invalid; the message names the option (or the field when no option stands for it)."""


def settings_error(exc: Exception, options: Mapping[str, str] | None = None) -> SettingsError:
    """One-line error for a failed validation (pydantic's first error, or a ValueError's message), naming
    the command-line option of the field: `options` maps field names to option names."""
    options = options or {}
    errors = getattr(exc, "errors", None)
    if callable(errors) and errors():
        first = errors()[0]
        loc = [str(part) for part in first.get("loc", ())]
        field = ".".join(loc)
        message = str(first.get("msg", exc)).removeprefix("Value error, ")
        named = f"{field}.{message.split()[0]}" if message.split() else field  # an adapter config names its field
        name = (options.get(field) or options.get(named)
                or next((options[part] for part in reversed(loc) if part in options), field))
        return SettingsError(f"{name}: {message}" if name else message)
    return SettingsError(str(exc))


def config_from_options(model: Any, defaults: Any, values: Mapping[str, Any], options: Mapping[str, str]) -> Any:
    """A pydantic `model` built from `defaults` with {dotted field path: value} set over them (the values of a
    command's options); a non-finite number or a failed validation is a SettingsError naming the option
    (`options` maps each field path to its option name)."""
    import math

    from pydantic import ValidationError

    data = defaults.model_dump()
    for path, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise SettingsError(f"{options.get(path, path)}: must be a finite number, got {value}")
        *parents, leaf = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[leaf] = value
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise settings_error(exc, options) from exc


def normalized(data: Any) -> Any:
    """`data` as it reads back from JSON (tuples become lists, keys strings), so saved and current compare equal."""
    return json.loads(json.dumps(data, default=str))


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def changed_settings(previous: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """`field: old -> new` for every field whose value differs (nested fields as `outer.inner`; a field
    present on one side only shows as `(none)` on the other), current fields first, in their order."""
    old, new = _flatten(normalized(previous)), _flatten(normalized(current))

    def show(value: Any) -> str:
        return "(none)" if value is _MISSING else json.dumps(value, ensure_ascii=False)

    names = list(new) + [name for name in old if name not in new]
    return [f"{name}: {show(old.get(name, _MISSING))} -> {show(new.get(name, _MISSING))}"
            for name in names if old.get(name, _MISSING) != new.get(name, _MISSING)]


def read_settings(path: str | Path) -> dict[str, Any] | None:
    """Saved settings, or None when there are none. An unreadable file is an error, not "none": the results
    beside it could belong to any settings."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{path} is unreadable ({type(exc).__name__}); remove its directory's results or "
                          "add --overwrite to start afresh") from exc
    if not isinstance(data, dict):
        raise RunDirError(f"{path} does not hold a settings object; add --overwrite to start afresh")
    return data


def check_settings(path: str | Path, current: Mapping[str, Any], hint: str = RETRY_HINT) -> bool:
    """True when `path` holds `current`, False when it holds nothing; RunDirError naming the differing fields
    when it holds other settings."""
    previous = read_settings(path)
    if previous is None:
        return False
    changed = changed_settings(previous, current)
    if changed:
        raise RunDirError(f"{Path(path).parent} holds results of other settings ({'; '.join(changed)}); {hint}")
    return True


def check_run_dir(directory: str | Path, current: Mapping[str, Any], *, owned: Sequence[str] | None = None,
                  overwrite: bool = False, settings_file: str = SETTINGS_FILE, hint: str = RETRY_HINT) -> bool:
    """May `directory` hold the results of `current`? True when it resumes a run of the same settings.

    `owned` names the entries the run writes besides the settings file (None: all of the directory is the
    run's). Where they hold files (results, stages, scores), other settings, an unreadable settings file or
    no settings file at all are refused; where they hold none, there is nothing to lose and the new settings
    simply replace the old. With `overwrite` nothing is refused (`begin_run` then removes the run's entries).
    """
    directory = Path(directory)
    check_creatable(directory)
    if overwrite or not directory.is_dir():
        return False
    cached = holds_results(directory, owned, settings_file)
    try:
        previous = read_settings(directory / settings_file)
    except RunDirError:
        if cached:
            raise
        previous = None
    if previous is not None:
        changed = changed_settings(previous, current)
        if not changed:
            return True
        if cached:
            raise RunDirError(f"{directory} holds results of other settings ({'; '.join(changed)}); {hint}")
    elif cached:
        present = sorted(entry.name for entry in _entries(directory, owned, settings_file))
        raise RunDirError(f"{directory} holds results without {settings_file} ({', '.join(present[:5])}); "
                          "choose another directory or add --overwrite to start afresh")
    return False


def check_creatable(path: str | Path, directory: bool = True) -> None:
    """RunDirError unless `path` is, or can be created as, a directory (or, with `directory=False`, a file):
    nothing on the way to it may be a file."""
    path = Path(path)
    if path.exists() and path.is_dir() != directory:
        raise RunDirError(f"{path} is a {'file' if directory else 'directory'}, not a {'directory' if directory else 'file'}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise RunDirError(f"{path}: {parent} is a file, not a directory")
            break


def begin_run(directory: str | Path, current: Mapping[str, Any], *, owned: Sequence[str] | None = None,
              overwrite: bool = False, settings_file: str = SETTINGS_FILE, hint: str = RETRY_HINT) -> bool:
    """Check as `check_run_dir`, then (with `overwrite`) remove the run's entries, and save `current` unless
    resuming. Returns True when resuming."""
    directory = Path(directory)
    resuming = check_run_dir(directory, current, owned=owned, overwrite=overwrite, settings_file=settings_file,
                             hint=hint)
    if overwrite and directory.is_dir():
        for entry in [*_entries(directory, owned, settings_file), directory / settings_file]:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            elif entry.exists() or entry.is_symlink():
                entry.unlink()
    if not resuming:
        write_json_atomic(directory / settings_file, normalized(dict(current)))
    return resuming


def holds_results(directory: str | Path, owned: Sequence[str] | None = None,
                  settings_file: str = SETTINGS_FILE) -> bool:
    """Whether any of the run's entries in `directory` holds a file (empty folders hold nothing)."""
    for entry in _entries(Path(directory), owned, settings_file):
        if not entry.is_dir() or any(path.is_file() for path in entry.rglob("*")):
            return True
    return False


def _entries(directory: Path, owned: Sequence[str] | None, settings_file: str) -> list[Path]:
    if not directory.is_dir():
        return []
    names = [entry.name for entry in directory.iterdir()] if owned is None else list(owned)
    leftovers = (name for name in names if name.startswith(".") and name.endswith(".tmp"))  # of a killed write
    skip = {settings_file, *leftovers}
    return [directory / name for name in names
            if name not in skip and ((directory / name).exists() or (directory / name).is_symlink())]


def examples_digest(examples: Iterable[Any]) -> str:
    """A short fingerprint of training or held-out examples (their JSON), so changed data counts as changed."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(json.dumps(example, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()[:16]
