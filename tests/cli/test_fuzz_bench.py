"""Fuzz of every `tooltune bench` and `tooltune sandbox` command through `main(argv)`, as a user runs them.

Seeded cases feed malformed options (models, suites, selections, strategies, counts, output directories),
damaged run directories (missing, garbage or truncated episodes.sqlite, config.json, judgments.json, score
files and trajectory exports, half-written lines, mutated config fields) and malformed ETAPP releases (garbage
headers, cut-off rows, wrong JSON types) to `bench run / judge / report / compare / import-etapp` and
`sandbox list-tools / show-user / list-cases / export-sft`. Every case must end without a traceback, with exit
code 0, 1 or 2, an error as one `error:` line (or click's own usage error), and no result lost: a command that
refuses (exit 2) leaves every file as it was, and no episode of the log or of the export ever disappears.
Models never load: specs resolve to scripted stand-ins (`tests.bench.fakes.fake_load_model`).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import sqlite3
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.bench.fakes import fake_load_model
from tests.bench.test_etapp import tiny_release
from tooltune.cli import main

SEED = 20261201
CASES = {"run options": 170, "run directories": 290, "etapp releases": 100, "sandbox": 60}
BASE_OPTIONS = ["--model", "scripted", "--limit", "2", "--max-turns", "2", "--quiet"]
SIDE_FILES = (".lock", "episodes.sqlite-wal", "episodes.sqlite-shm")  # a lock, SQLite's transient companions
RUN_FILES = ("config.json", "episodes.sqlite", "trajectories.jsonl", "judgments.json", "scores.json", "scores.csv",
             "episodes.csv", "cases.csv", "report.html")


# -- running one command and checking what it did --------------------------------------------------------------

class Outcome:
    def __init__(self, argv: list[str], code: int, out: str, err: str, crash: str = "") -> None:
        self.argv, self.code, self.out, self.err, self.crash = argv, code, out, err, crash

    def problems(self) -> list[str]:
        """Why this outcome breaks the rules (empty when it does not)."""
        if self.crash:
            return [f"traceback: {self.crash}"]
        found = []
        if self.code not in (0, 1, 2):
            found.append(f"exit code {self.code}")
        if "Traceback" in self.out + self.err:
            found.append("a traceback was printed")
        if self.code != 0:
            lines = [line for line in self.err.splitlines() if line.strip()]
            one_line = len(lines) == 1 and lines[0].startswith("error: ")
            if not one_line and "Usage:" not in self.err:
                found.append(f"error is not one `error:` line: {self.err[-300:]!r}")
        return found


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> Outcome:
    capsys.readouterr()
    crash = ""
    try:
        main(argv)
        code = 0
    except SystemExit as exit:
        code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
    except BaseException:  # noqa: BLE001 - anything escaping main is what the fuzz looks for
        code, crash = -1, traceback.format_exc(limit=-3)
    captured = capsys.readouterr()
    return Outcome(argv, code, captured.out, captured.err, crash)


def digest(root: Path) -> dict[str, str]:
    if not root.exists():
        return {}
    if root.is_file():
        return {"": hashlib.sha256(root.read_bytes()).hexdigest()}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name not in SIDE_FILES}


def logged_episodes(run_dir: Path, scratch: Path) -> set[str] | None:
    """Episode ids of the log (read from a copy, so the run directory is not touched); None when unreadable."""
    db = run_dir / "episodes.sqlite"
    if not db.is_file():
        return None
    copy = scratch / "inspect.sqlite"
    shutil.copyfile(db, copy)
    try:
        with sqlite3.connect(copy) as conn:
            ids = {row[0] for row in conn.execute("SELECT id FROM episodes WHERE status = 'done'")}
        conn.close()
        return ids
    except sqlite3.Error:
        return None
    finally:
        copy.unlink(missing_ok=True)


def exported_episodes(run_dir: Path) -> set[str]:
    path = run_dir / "trajectories.jsonl"
    ids = set()
    if path.is_file():
        for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
            try:
                key = json.loads(line)["key"]
                ids.add(f"{key['case_id']}|{key['strategy']}|{key['setting']}|{key['trial']}")
            except (ValueError, TypeError, KeyError):
                continue
    return ids


def results_kept(run_dir: Path, scratch: Path, command: Callable[[], Outcome]) -> tuple[Outcome, list[str]]:
    """Run `command` on a run directory; the problems: files changed by a refusal, episodes lost by anything."""
    before_files = digest(run_dir)
    before_log = logged_episodes(run_dir, scratch)
    before_export = exported_episodes(run_dir)
    outcome = command()
    found = outcome.problems()
    if outcome.code == 2 and digest(run_dir) != before_files:
        changed = sorted(set(before_files.items()) ^ set(digest(run_dir).items()))
        found.append(f"refused (exit 2) but changed {changed[:3]}")
    after_log = logged_episodes(run_dir, scratch) or set()
    if before_log and before_log - after_log:
        found.append(f"episodes lost from the log: {sorted(before_log - after_log)[:2]}")
    if before_export - after_log - exported_episodes(run_dir):
        found.append("exported episodes lost")
    return outcome, found


# -- damage --------------------------------------------------------------------------------------------------

def weird_value(rng: random.Random):
    return rng.choice([None, True, -1, 0, 10**12, 2.5, float("nan"), "", "x" * 300, "fc", ["fc"], [1, None], {},
                       {"a": 1}, "etapp:", "builtin", "\x00", "openai:https://u:k@h/v1#m", ["given", 3]])


def mutate_json(rng: random.Random, data):
    choice = rng.randrange(6)
    if choice == 0 or not isinstance(data, dict) or not data:
        return weird_value(rng)
    data = dict(data)
    key = rng.choice(sorted(data))
    if choice == 1:
        del data[key]
    elif choice == 2:
        data["unknown_" + str(rng.randrange(99))] = weird_value(rng)
    else:
        data[key] = weird_value(rng)
    return data


def damage_bytes(rng: random.Random, path: Path) -> str:
    """Truncate, overwrite with garbage, cut a line in half, flip bytes, empty or delete a file."""
    data = path.read_bytes() if path.is_file() else b""
    choice = rng.randrange(7)
    if choice == 0:
        path.unlink(missing_ok=True)
        return "deleted"
    if choice == 1:
        path.write_bytes(data[:rng.randrange(len(data) + 1)])
        return "truncated"
    if choice == 2:
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))))
        return "garbage"
    if choice == 3:
        lines = data.splitlines(keepends=True)
        cut = lines[-1][:max(1, len(lines[-1]) // 2)] if lines else b'{"key": {"case_'
        path.write_bytes(b"".join(lines[:-1]) + cut if rng.random() < 0.5 else data + cut)
        return "half-written line"
    if choice == 4 and data:
        mutable = bytearray(data)
        for _ in range(rng.randrange(1, 20)):
            mutable[rng.randrange(len(mutable))] = rng.randrange(256)
        path.write_bytes(bytes(mutable))
        return "flipped bytes"
    if choice == 5:
        path.write_bytes(b"")
        return "emptied"
    path.write_text(json.dumps(weird_value(rng)))
    return "wrong JSON"


def damage_log(rng: random.Random, path: Path) -> str:
    """Damage inside a readable SQLite log: wrong rows, dropped tables, garbage records."""
    conn = sqlite3.connect(path)
    try:
        choice = rng.randrange(5)
        with conn:
            if choice == 0:
                conn.execute("DELETE FROM episodes WHERE rowid IN (SELECT rowid FROM episodes LIMIT 1)")
                return "log lost a row"
            if choice == 1:
                conn.execute(f"DROP TABLE {rng.choice(['episodes', 'judgments', 'meta'])}")
                return "log lost a table"
            if choice == 2:
                conn.execute("UPDATE episodes SET record = ? WHERE rowid IN (SELECT rowid FROM episodes LIMIT 1)",
                             (rng.choice(["{", "[]", '{"key": 1}', "null", json.dumps({"key": {"case_id": 1}})]),))
                return "garbage record"
            if choice == 3:
                conn.execute("UPDATE episodes SET status = 'error', error = NULL")
                return "every episode marked failed"
            conn.execute("INSERT OR REPLACE INTO judgments VALUES ('k', 'c', 'h', 'j', '{', 0)")
            return "garbage cached verdict"
    except sqlite3.Error as error:
        return f"log damage failed: {error}"
    finally:
        conn.close()


# -- fixtures: real runs to damage, and a tiny ETAPP release ------------------------------------------------

@pytest.fixture(scope="module")
def fakes_installed():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("tooltune.models.registry.load_model", fake_load_model)
        yield


@pytest.fixture(scope="module")
def base_runs(tmp_path_factory, fakes_installed) -> dict[str, Path]:
    """Two real runs of the built-in suite: one plain, one judged (with judgments.json)."""
    root = tmp_path_factory.mktemp("base")
    runs = {"plain": root / "plain", "judged": root / "judged"}
    for name, path in runs.items():
        argv = ["bench", "run", *BASE_OPTIONS, "--out", str(path)] + (["--judge", "judge"] if name == "judged" else [])
        try:
            main(argv)
        except SystemExit as exit:
            assert exit.code in (0, None), argv
    return runs


def release_with_tables(root: Path) -> Path:
    tiny_release(root, with_pickle=False)
    tables = {
        "database/Calendar/events/events_Ann_Lee.csv": "id,title,description,start_time,end_time,reminder\n"
                                                       "1,Dentist,,2024-09-06 10:00:00,2024-09-06 11:00:00,None\n",
        "database/Email/emails_Ann_Lee.csv": "id,sender,receiver,subject,content,timestamp,status,read_status,"
                                             "attachments\n"
                                             "1,a@x.com,ann@x.com,Hi,Hello,2024-09-05 09:00:00,sent,read,\n",
        "database/Music/favorites_Ann_Lee.csv": "id,music_type,title,artist\n1,jazz,So What,Miles Davis\n",
        "database/Navigation/attractions/attractions.csv": "Name,Latitude,Longitude,Address,Phone,Website,City\n"
                                                           "Park,1,2,Main St,,,Boston\n",
        "profile/concrete_profile/profile_Ann_Lee.json": json.dumps({"music": {"volume": 30}}),
        "toolkit/Home/config.json": json.dumps([{"type": "function", "function": {
            "name": "control_light_in_home", "parameters": {"type": "object", "properties": {}}}}]),
    }
    for rel, text in tables.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


# -- the cases -----------------------------------------------------------------------------------------------

def run_option_cases(rng: random.Random, tmp: Path, base_runs: dict[str, Path], release: Path, capsys):
    """`bench run` with malformed and valid options, into fresh, foreign, file and existing run directories."""
    for index in range(CASES["run options"]):
        out = tmp / f"opt{index}"
        kind = rng.choice(["fresh", "fresh", "fresh", "foreign", "file", "run", "run-resume"])
        if kind == "foreign":
            out.mkdir()
            (out / "mine.txt").write_text("not a run")
        elif kind == "file":
            out.write_text("a file")
        elif kind.startswith("run"):
            shutil.copytree(base_runs["plain"], out)
        options = {
            "--model": rng.choice(["scripted"] * 6 + ["down", "nosuch", "", "openai:https://me:sk-x@h/v1#m",
                                                      "openai:http://127.0.0.1:9/v1?token=abc#m"]),
            "--suite": rng.choice(["builtin"] * 6 + ["nonsense", "etapp:", f"etapp:{tmp / 'nowhere'}",
                                                     f"etapp:{release}", f"etapp:{base_runs['plain']}/config.json"]),
            "--strategy": rng.choice(["fc", "fc", "react", "plan", "fc,react", "bogus", "", "fc,,", "FC"]),
            "--setting": rng.choice(["given", "given", "retrieval", "bogus", ""]),
            "--trials": rng.choice(["1", "1", "2", "0", "-1", "abc"]),
            "--max-turns": rng.choice(["2", "1", "3", "0"]),
            "--limit": rng.choice(["1", "2", "2", "0", "-3", "x", None]),
            "--temperature": rng.choice(["0", "0.7", "-1", "6", "nan", "inf"]),
            "--tool-choice": rng.choice(["auto", "auto", "required", "none", "bad name!", "play_music", ""]),
            "--dtype": rng.choice(["auto", "auto", "float32", "bogus"]),
            "--concurrency": rng.choice(["8", "1", "0"]),
            "--batch-size": rng.choice(["8", "1", "0"]),
        }
        argv = ["bench", "run", "--quiet"]
        for option, value in options.items():
            if value is not None and (rng.random() < 0.6 or option in ("--model", "--limit", "--max-turns")):
                argv += [option, value]
        if "--limit" not in argv or rng.random() < 0.3:  # keep runs small: a few cases, not the whole suite
            argv += ["--cases", rng.choice(["etapp-01@ann_lee", "nope@nobody", "music-play-favourites@maya_chen"])]
        for option, values in (("--users", ["maya_chen", "nobody", "maya_chen,liam_oconnor", "ann_lee"]),
                               ("--apps", ["music", "teleport", "music,weather", "smart_home"]),
                               ("--judge", ["judge", "judge-down", "nosuch", "openai:https://u:k@h/v1#j"])):
            if rng.random() < 0.2:
                argv += [option, rng.choice(values)]
        if rng.random() < 0.97:
            argv += ["--out", str(out)]
        if kind == "run-resume" or rng.random() < 0.1:
            argv.append("--resume")
        before = digest(out)
        if kind.startswith("run"):
            outcome, found = results_kept(out, tmp, lambda argv=argv: run_cli(argv, capsys))
        else:
            outcome = run_cli(argv, capsys)
            found = outcome.problems()
            if outcome.code == 2 and digest(out) != before:
                found.append(f"refused (exit 2) but wrote into {out.name}")
            if kind == "fresh" and outcome.code == 2 and out.exists():
                found.append("refused (exit 2) but left a directory behind")
        yield "run options", argv, outcome, found


def run_directory_cases(rng: random.Random, tmp: Path, base_runs: dict[str, Path], capsys):
    """Damaged copies of real run directories, then report, judge, resume, rerun or compare."""
    for index in range(CASES["run directories"]):
        source = rng.choice(["plain", "judged"])
        run_dir = tmp / f"dir{index}"
        shutil.copytree(base_runs[source], run_dir)
        damage = []
        for _ in range(rng.choice([1, 1, 1, 2])):
            name = rng.choice(RUN_FILES + ("config.json", "episodes.sqlite", "episodes.sqlite", "trajectories.jsonl"))
            path = run_dir / name
            if name == "config.json" and rng.random() < 0.5 and path.is_file():
                try:
                    data = json.loads(path.read_text())
                except ValueError:
                    data = {}
                path.write_text(json.dumps(mutate_json(rng, data)))
                damage.append("config.json mutated")
            elif name == "judgments.json" and rng.random() < 0.5 and path.is_file():
                data = json.loads(path.read_text())
                if data and rng.random() < 0.5:
                    episode = rng.choice(sorted(data))
                    data[episode] = mutate_json(rng, data[episode])
                else:
                    data = mutate_json(rng, data)
                path.write_text(json.dumps(data))
                damage.append("judgments.json mutated")
            elif name == "episodes.sqlite" and rng.random() < 0.5 and path.is_file():
                damage.append(damage_log(rng, path))
            elif rng.random() < 0.1:
                shutil.rmtree(run_dir)
                damage.append("directory removed")
                break
            else:
                damage.append(f"{name} {damage_bytes(rng, path)}")
        command = rng.choice(["report", "report", "replay", "judge", "judge-down", "resume", "resume-down", "rerun",
                              "compare"])
        argv = {
            "report": ["bench", "report", str(run_dir)],
            "replay": ["bench", "judge", str(run_dir), "--replay", "--quiet"],
            "judge": ["bench", "judge", str(run_dir), "--judge", "judge", "--quiet"],
            "judge-down": ["bench", "judge", str(run_dir), "--judge", "judge-down", "--quiet"],
            "resume": ["bench", "run", *BASE_OPTIONS, "--out", str(run_dir), "--resume"],
            "resume-down": ["bench", "run", *BASE_OPTIONS, "--out", str(run_dir), "--resume", "--model", "down"],
            "rerun": ["bench", "run", *BASE_OPTIONS, "--out", str(run_dir)],
            "compare": ["bench", "compare", str(base_runs["plain"]), str(run_dir), "--resamples", "50",
                        "--out", str(tmp / f"cmp{index}")],
        }[command]
        outcome, found = results_kept(run_dir, tmp, lambda argv=argv: run_cli(argv, capsys))
        yield "run directories", argv + [f"# {'; '.join(damage)}"], outcome, found


def etapp_cases(rng: random.Random, tmp: Path, capsys):
    """Malformed ETAPP releases through import-etapp and a one-case run."""
    files = ["database/Calendar/events/events_Ann_Lee.csv", "database/Email/emails_Ann_Lee.csv",
             "database/Music/favorites_Ann_Lee.csv", "database/Navigation/attractions/attractions.csv",
             "data/instruction/instruction.json", "profile/profiles.json",
             "profile/concrete_profile/profile_Ann_Lee.json", "toolkit/Home/config.json"]
    for index in range(CASES["etapp releases"]):
        root = release_with_tables(tmp / f"rel{index}")
        damage = []
        for _ in range(rng.choice([1, 1, 2])):
            rel = rng.choice(files)
            path = root / rel
            readable = rel not in {d.split(" ")[0] for d in damage}  # the first damage may have left bytes only
            if rel.endswith(".json") and readable and path.is_file() and rng.random() < 0.6:
                data = json.loads(path.read_text())
                if isinstance(data, list) and data and rng.random() < 0.7:
                    data[0] = mutate_json(rng, data[0])
                else:
                    data = mutate_json(rng, data)
                path.write_text(json.dumps(data))
                damage.append(f"{rel} mutated")
            elif rel.endswith(".csv") and readable and path.is_file() and rng.random() < 0.5:
                header, *rows = path.read_text().splitlines(keepends=True)
                variant = rng.randrange(4)
                text = ["\ufeff\x00garbage;header\n" + "".join(rows), header + "".join(rows) + '2,"unterminated',
                        header + rows[0].rstrip("\n") + ",extra,cells\n", header][variant]
                path.write_text(text)
                damage.append(f"{rel} csv variant {variant}")
            else:
                damage.append(f"{rel} {damage_bytes(rng, path)}")
        if rng.random() < 0.5:
            argv = ["bench", "import-etapp", str(root)]
        else:
            argv = ["bench", "run", "--suite", f"etapp:{root}", *BASE_OPTIONS, "--out", str(tmp / f"erun{index}")]
        outcome = run_cli(argv, capsys)
        found = outcome.problems()
        if argv[1] == "import-etapp" and outcome.code == 1:
            found.append("import-etapp is a report: exit 0, or 2 for a release it cannot read")
        yield "etapp releases", argv + [f"# {'; '.join(damage)}"], outcome, found


def sandbox_cases(rng: random.Random, tmp: Path, capsys):
    names = ["maya_chen", "Maya Chen", "nobody", "", "  ", "MAYA_CHEN", "x" * 200, "\x00"]
    apps = ["music", "weather", "teleport", "", "MUSIC"]
    for index in range(CASES["sandbox"]):
        command = rng.choice(["list-tools", "show-user", "list-cases", "export-sft"])
        if command == "list-tools":
            argv = ["sandbox", "list-tools", "--app", rng.choice(apps)] + (["--json"] if rng.random() < 0.5 else [])
        elif command == "show-user":
            argv = ["sandbox", "show-user", rng.choice(names)] + (["--json"] if rng.random() < 0.5 else [])
        elif command == "list-cases":
            argv = ["sandbox", "list-cases"]
            if rng.random() < 0.7:
                argv += ["--user", rng.choice(names)]
            if rng.random() < 0.5:
                argv += ["--app", rng.choice(apps)]
            if rng.random() < 0.2:
                argv.append("--instructions")
        else:
            out = rng.choice([tmp / f"sft{index}.jsonl", tmp / "missing" / f"sft{index}.jsonl", tmp])
            argv = ["sandbox", "export-sft", str(out), "--split", rng.choice(["test", "train", "all", "bogus"]),
                    "--by", rng.choice(["user", "instruction", "bogus"]),
                    "--test-fraction", rng.choice(["0.25", "0", "1", "-1", "2", "nan"]),
                    "--apps", rng.choice(["music", "teleport", "music,weather"])]
        outcome = run_cli(argv, capsys)
        yield "sandbox", argv, outcome, outcome.problems()


def test_fuzz_bench_and_sandbox_commands(tmp_path: Path, base_runs: dict[str, Path], capsys,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a command that fell back to a default directory would write here
    rng = random.Random(SEED)
    release = release_with_tables(tmp_path / "release")
    start = time.perf_counter()
    counts: dict[str, int] = {}
    codes: dict[int, int] = {}
    failures = []
    for group in (run_option_cases(rng, tmp_path, base_runs, release, capsys),
                  run_directory_cases(rng, tmp_path, base_runs, capsys),
                  etapp_cases(rng, tmp_path, capsys),
                  sandbox_cases(rng, tmp_path, capsys)):
        for name, argv, outcome, found in group:
            counts[name] = counts.get(name, 0) + 1
            codes[outcome.code] = codes.get(outcome.code, 0) + 1
            if found:
                failures.append(f"{' '.join(argv)}\n    -> exit {outcome.code}: {'; '.join(found)}")
    seconds = time.perf_counter() - start
    print(f"\nbench/sandbox fuzz: {sum(counts.values())} cases {counts} in {seconds:.1f} s; exit codes {codes}")
    assert sum(counts.values()) >= 600
    assert not failures, f"{len(failures)} of {sum(counts.values())} cases broke the rules:\n" + "\n".join(failures[:8])
    assert not list(tmp_path.glob("runs")), "a command wrote into a default directory"
    assert all(codes.get(code) for code in (0, 1, 2)), codes  # the fuzz reaches successes, failures and refusals
