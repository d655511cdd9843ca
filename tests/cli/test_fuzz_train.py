"""Fuzz of every `tooltune train` command through `main(argv)`, as a user runs them.

Seeded cases feed malformed SFT files (binary garbage, truncated lines, wrong types, empty files, missing
messages or roles, bad tools items), malformed options, and corrupted output directories (half-written
settings.json, stage_done.json, score rows and results) to `train citi`, `train continual`,
`train internalize`, `importance`, and `train agent` (its arguments only). Every case must end without a
traceback, with exit code 0, 1 or 2, an error as one `error:` line (or click's own usage error), and every
file an earlier run left unchanged. Models never load: loading one ends the command with a run failure
(exit 1), which shows that the inputs were validated before it. The earlier runs the corrupted directories
are copied from are real ones, on a tiny from-config model, and a few corrupted directories are resumed on it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import random
import re
import shutil
from pathlib import Path

import pytest

from tests.train.tiny import tiny_llama, tiny_tokenizer, tool_example, weather_tool
from tooltune.cli import main
from tooltune.errors import RunFailure

SEED = 20261130
CASES = 520
BLOCKED = "model loading is blocked in the fuzz"
CITIES = ["paris", "berlin", "rome", "paris", "berlin", "rome"]


class _ModelBlocked(RunFailure):
    pass


class _Loader:
    """Stands in for every way a command loads a model; counts the attempts, loads only when allowed."""

    def __init__(self, real_load_model) -> None:
        self.real_load_model = real_load_model
        self.calls = 0
        self.allowed: str | None = None  # a checkpoint path that may really load

    def load_model(self, spec: str, *args, **kwargs):
        self.calls += 1
        if self.allowed is not None and spec == self.allowed:
            return self.real_load_model(spec, *args, **kwargs)
        raise _ModelBlocked(BLOCKED)

    def blocked(self, *args, **kwargs):
        self.calls += 1
        raise _ModelBlocked(BLOCKED)


def _jsonl(rows: list) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def _task_rows(name: str, arg: str, values: list[str]) -> list[dict]:
    schema = {"type": "function", "function": {"name": name, "description": name, "parameters": {
        "type": "object", "properties": {arg: {"type": "string"}}, "required": [arg]}}}
    rows = []
    for value in values:
        call = {"id": "c1", "type": "function", "function": {"name": name, "arguments": json.dumps({arg: value})}}
        rows.append({"messages": [{"role": "user", "content": f"please {name} {value}"},
                                  {"role": "assistant", "content": None, "tool_calls": [call]}],
                     "tools": [schema]})
    return rows


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Files every case starts from, and real earlier runs (tiny model) to corrupt copies of."""
    import tooltune.methods.internalize.retrieve as retrieve
    import tooltune.models.embedded as embedded
    import tooltune.models.registry as registry
    import typer.main

    import tooltune.methods.agent_recipe as agent_recipe

    root = tmp_path_factory.mktemp("fuzz")
    loader = _Loader(registry.load_model)
    build_command, built = typer.main.get_command, {}

    def get_command(app):  # typer rebuilds the same click command tree on every call: build it once
        if id(app) not in built:
            built[id(app)] = build_command(app)
        return built[id(app)]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(typer.main, "get_command", get_command)
        patch.setattr(registry, "load_model", loader.load_model)
        patch.setattr(embedded, "load_embedded_model", loader.blocked)
        patch.setattr(agent_recipe, "run_agent_recipe", loader.blocked)
        patch.setattr(retrieve, "embedding_model_path", lambda: None)  # as if not installed: no model to load
        tokenizer = tiny_tokenizer(extra_words=["please"])
        checkpoint = root / "tiny"
        tiny_llama(len(tokenizer)).save_pretrained(checkpoint)
        tokenizer.save_pretrained(checkpoint)
        files = {"sft": root / "sft.jsonl", "weather": root / "get_weather.jsonl", "volume": root / "set_volume.jsonl",
                 "weather_test": root / "weather_test.jsonl", "volume_test": root / "volume_test.jsonl",
                 "chat": root / "chat.jsonl", "blocker": root / "a_file"}
        files["sft"].write_text(_jsonl([tool_example(c) for c in CITIES]))
        files["weather"].write_text(_jsonl(_task_rows("get_weather", "city", ["paris", "berlin", "rome"] * 2)))
        files["volume"].write_text(_jsonl(_task_rows("set_volume", "level", ["1", "2", "3"] * 2)))
        files["weather_test"].write_text(_jsonl(_task_rows("get_weather", "city", ["oslo", "rome"])))
        files["volume_test"].write_text(_jsonl(_task_rows("set_volume", "level", ["4", "5"])))
        files["chat"].write_text(_jsonl([{"messages": [{"role": "user", "content": "hi"},
                                                       {"role": "assistant", "content": "hello"}]}] * 3))
        files["blocker"].write_text("a file where a directory would have to be")
        other = root / "other"
        other.mkdir()
        files["weather_twin"] = other / "get_weather.jsonl"  # the same task name twice
        shutil.copy(files["weather"], files["weather_twin"])
        bench = root / "CL_Benchmark" / "TC" / "agnews"
        bench.mkdir(parents=True)
        rows = [{"sentence": f"news {i}", "label": "sports"} for i in range(4)]  # the release layout
        (bench / "labels.json").write_text(json.dumps(["sports", "world"]))
        for split in ("train", "test"):
            (bench / f"{split}.json").write_text(json.dumps(rows))
        (root / "configs").mkdir()
        (root / "configs" / "instruction_config.json").write_text(json.dumps(
            {"TC": [{"instruction_type": "zero-shot", "instruction": "classify\n"}]}))

        world = {"root": root, "files": files, "checkpoint": str(checkpoint), "loader": loader,
                 "cl_benchmark": str(root / "CL_Benchmark")}
        loader.allowed = str(checkpoint)
        runs = root / "earlier"
        for name, argv in _earlier_runs(world, runs).items():
            code, _, err = _main(argv)
            assert code == 0, (name, err)
        loader.allowed = None
        internalize = runs / "internalize"
        code, _, err = _main(["train", "internalize", *INTERNALIZE_BASE, "--output-dir", str(internalize)])
        assert code == 1 and BLOCKED in err  # the settings are saved, then the student would load
        stage = internalize / "skintern" / "00-S0-1.00"
        stage.mkdir(parents=True)
        (stage / "stage_done.json").write_text('{"global_step": 2, "train_loss": 1.5}\n')
        (stage / "stage_weights.safetensors").write_bytes(b"weights of an earlier run")
        world["runs"] = runs
        yield world


def _main(argv: list[str]) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `tooltune ARGV`; any exception but SystemExit fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    return code, out.getvalue(), err.getvalue()


CITI_BASE = ["--eval-size", "2", "--max-new-tokens", "2", "--cloze-items", "1", "--retention-windows", "1",
             "--batch-size", "2", "--max-length", "512", "--lora-rank", "2", "--epochs", "1"]
CONTINUAL_BASE = ["--method", "seqlora", "--test-size", "2", "--scorer", "greedy", "--batch-size", "4",
                  "--max-length", "512", "--lora-rank", "2", "--target-modules", "q_proj,v_proj"]
INTERNALIZE_BASE = ["--retriever", "bm25", "--compressor", "surprisal", "--n-train", "6", "--n-test", "2",
                    "--rules", "2", "--stages", "2"]


def _earlier_runs(world: dict, runs: Path) -> dict[str, list[str]]:
    files = world["files"]
    return {
        "citi": ["train", "citi", "--model", world["checkpoint"], "--data", str(files["sft"]), "--method", "base,lora",
                 "--out", str(runs / "citi"), *CITI_BASE],
        "continual": ["train", "continual", "--model", world["checkpoint"], "--tasks",
                      f"{files['weather']},{files['volume']}", "--output-dir", str(runs / "continual"),
                      *CONTINUAL_BASE],
    }


# --- malformed SFT files -------------------------------------------------------------------------------------

def _bad_sft(rng: random.Random) -> tuple[str, bytes]:
    """(what is wrong, file bytes): every one must be refused."""
    good = tool_example(rng.choice(CITIES))
    line = json.dumps(good)
    message = dict(good["messages"][2])
    mutations = {
        "binary garbage": lambda: bytes(rng.randrange(128, 256) for _ in range(rng.randrange(1, 200))),
        "garbage after a good line": lambda: (line + "\n").encode() + bytes([0xff, 0xfe, rng.randrange(256)]),
        "png header": lambda: b"\x89PNG\r\n\x1a\n" + bytes(rng.randrange(256) for _ in range(32)),
        "truncated line": lambda: (line + "\n" + line[: rng.randrange(1, len(line) - 1)]).encode(),
        "truncated only line": lambda: line[: rng.randrange(1, len(line) - 1)].encode(),
        "empty": lambda: b"",
        "blank lines": lambda: b"\n  \n\t\n",
        "top-level array": lambda: b"[1, 2, 3]\n",
        "top-level number": lambda: b"42\n",
        "top-level string": lambda: b'"messages"\n',
        "null": lambda: b"null\n",
        "deep nesting": lambda: b"[" * 100000 + b"]" * 100000 + b"\n",
        "utf-8 bom": lambda: ("\ufeff" + line + "\n").encode(),
        "missing messages": lambda: json.dumps({"tools": good["tools"]}).encode(),
        "messages not a list": lambda: json.dumps({**good, "messages": rng.choice(["hi", 3, {"role": "user"},
                                                                                   None])}).encode(),
        "empty messages": lambda: json.dumps({**good, "messages": []}).encode(),
        "message not an object": lambda: json.dumps({**good, "messages": [rng.choice(["hi", 1, None, []])]}).encode(),
        "missing role": lambda: json.dumps({**good, "messages": [{"content": "hi"}]}).encode(),
        "unknown role": lambda: json.dumps({**good, "messages": [
            {"role": rng.choice(["robot", "", 5, None, "Assistant"]), "content": "hi"},
            {"role": "assistant", "content": "x"}]}).encode(),
        "no assistant turn": lambda: json.dumps({**good, "messages": good["messages"][:2]}).encode(),
        "content of a wrong type": lambda: json.dumps({**good, "messages": [
            {"role": "user", "content": rng.choice([5, 1.5, True, {"text": "x"}, [1, 2], [{"text": 3}]])},
            {"role": "assistant", "content": "x"}]}).encode(),
        "tool_calls not a list": lambda: json.dumps({**good, "messages": [
            {**message, "tool_calls": rng.choice([7, "call", {"function": {"name": "f"}}])}]}).encode(),
        "tool call without a name": lambda: json.dumps({**good, "messages": [
            {**message, "tool_calls": [rng.choice([{}, {"function": {}}, {"function": {"name": 3}},
                                                   {"function": "f"}, "f", 1])]}]}).encode(),
        "arguments of a wrong type": lambda: json.dumps({**good, "messages": [
            {**message, "tool_calls": [{"function": {"name": "f", "arguments": rng.choice([[1], 5, True])}}]}]}
        ).encode(),
        "tool call id not a string": lambda: json.dumps({**good, "messages": [
            {**message, "tool_calls": [{"id": rng.choice([[1], {"a": 1}, 5]), "function": {"name": "f"}}]}]}).encode(),
        "tool_call_id not a string": lambda: json.dumps({**good, "messages": [
            *good["messages"][:3], {"role": "tool", "tool_call_id": rng.choice([["c1"], 1, {}]), "content": "x"},
            good["messages"][4]]}).encode(),
        "tools not a list": lambda: json.dumps({**good, "tools": rng.choice(["get_weather", 3, {"a": 1}, True])}).encode(),
        "bad tools item": lambda: json.dumps({**good, "tools": [weather_tool(), rng.choice(
            [1, "x", None, [], {}, {"type": "function"}, {"function": {"description": "no name"}},
             {"function": {"name": ""}}, {"function": {"name": 5}}])]}).encode(),
    }
    kind = rng.choice(sorted(mutations))
    data = mutations[kind]()
    if rng.random() < 0.3 and kind not in ("empty", "blank lines"):  # the bad line after good ones
        data = (line + "\n").encode() * rng.randrange(1, 4) + data
    return kind, data


def _sft_case(world: dict, rng: random.Random, case_dir: Path) -> tuple[list[str], dict]:
    files = world["files"]
    kind, data = _bad_sft(rng)
    bad = case_dir / f"bad-{rng.randrange(10**6)}.jsonl"
    bad.write_bytes(data)
    target = rng.choice(["citi-data", "citi-eval", "continual-task", "continual-test", "importance"])
    out = case_dir / "out"
    if target == "citi-data":
        argv = ["train", "citi", "--data", str(bad), "--out", str(out)]
    elif target == "citi-eval":
        argv = ["train", "citi", "--data", str(files["sft"]), "--eval-data", str(bad), "--out", str(out)]
    elif target == "continual-task":
        tasks = [str(files["weather"]), str(bad)]
        rng.shuffle(tasks)
        argv = ["train", "continual", "--tasks", ",".join(tasks), "--test-size", "1", "--output-dir", str(out)]
    elif target == "continual-test":
        argv = ["train", "continual", "--tasks", f"{files['weather']},{files['volume']}",
                "--test-tasks", f"{files['weather_test']},{bad}", "--output-dir", str(out)]
    else:
        argv = ["importance", "--data", str(bad), "--out", str(out / "scores.json")]
    return argv, {"invalid": True, "names": bad.name, "what": kind, "fresh": out}


# --- malformed options ---------------------------------------------------------------------------------------

NAN = ["nan", "inf", "-inf"]
CITI_OPTIONS = {
    "--method": (["base", "lora", "citi", "full", "all", "base,lora"], ["magic", "", ",", "base,magic", "LoRA"]),
    "--eval-size": (["1", "2"], ["0", "-1", "x", "6", "100"]),
    "--max-train": (["1", "3"], ["0", "-3", "1.5"]),
    "--max-eval": (["1", "2"], ["0", "-1"]),
    "--calls-per-example": (["0", "1"], ["-1", "2", "x"]),
    "--epochs": (["1", "0.5"], ["0", "-1", *NAN]),
    "--lr": (["1e-3"], ["0", "-1", "abc", *NAN]),
    "--full-lr": (["1e-5"], ["0", "nan"]),
    "--batch-size": (["1", "4"], ["0", "-2", "x"]),
    "--grad-accum": (["1", "2"], ["0"]),
    "--max-length": (["64", "512"], ["8", "0", "x"]),
    "--experts": (["4", "8"], ["0", "-4"]),
    "--rank": (["2", "8"], ["0"]),
    "--alpha": (["2"], ["0", "-1", "nan"]),
    "--top-k": (["1", "2"], ["0", "9"]),
    "--lora-rank": (["2"], ["0"]),
    "--lora-alpha": (["16"], ["0", "inf"]),
    "--top-fraction": (["0.2", "1"], ["0", "1.5", "-0.1", "nan"]),
    "--full-fraction": (["0", "0.5"], ["1.5", "-1"]),
    "--importance-batches": (["1"], ["0"]),
    "--importance-aggregate": (["sum", "mean"], ["max", ""]),
    "--max-new-tokens": (["1", "64"], ["0"]),
    "--cloze-items": (["1"], ["0"]),
    "--retention-windows": (["1"], ["0"]),
    "--seed": (["0", "7", str(2**32 - 1)], ["-1", str(2**40), "x"]),
}
CONTINUAL_OPTIONS = {
    "--method": (["data", "seqlora", "olora", "multitask", "data,seqlora"], ["ewc", "", "data,ewc"]),
    "--test-size": (["1", "2"], ["0", "6", "x"]),
    "--top-layers": (["1"], ["0"]),
    "--max-train": (["2"], ["0"]),
    "--scorer": (["auto", "greedy", "token", "tool-call"], ["exact", ""]),
    "--max-new-tokens": (["8"], ["0"]),
    "--epochs": (["1"], ["0", *NAN]),
    "--lr": (["1e-4"], ["0", "nan"]),
    "--batch-size": (["2"], ["0"]),
    "--max-length": (["128"], ["4"]),
    "--seed": (["3"], ["-5", "99999999999"]),
    "--target-modules": (["q_proj", "q_proj,v_proj"], ["", ","]),
    "--rank-low": (["2"], ["0"]),
    "--rank-high": (["4"], ["0"]),
    "--rows-per-task": (["2"], ["0"]),
    "--orthogonality-weight": (["0.5"], ["-1", "nan"]),
    "--restoration-rate": (["0.1"], ["2", "-0.1", "nan"]),
    "--restoration-period": (["3"], ["0"]),
    "--lora-rank": (["4"], ["0"]),
    "--olora-rank": (["4"], ["0"]),
}
INTERNALIZE_OPTIONS = {
    "--n-train": (["4", "6"], ["-1", "0", "100000"]),
    "--n-test": (["2"], ["0", "-1"]),
    "--stages": (["2", "3"], ["1", "0"]),
    "--epochs": (["1"], ["0", "-1", *NAN]),
    "--decay": (["linear", "exponential"], ["cubic"]),
    "--compressor": (["auto", "surprisal"], ["llmlingua", "zip"]),
    "--lora-r": (["4"], ["0"]),
    "--learning-rate": (["1e-3"], ["0", "nan"]),
    "--batch-size": (["2"], ["0"]),
    "--seed": (["1"], ["-1"]),
    "--student": (["smollm2"], ["/no/such/checkpoint", ""]),
}
RULES_OPTIONS = {
    "--rules": (["2", "6"], ["0", "7"]),
    "--examples": (["0", "2"], ["-1"]),
    "--rationales": (["1"], ["0"]),
    "--retriever": (["auto", "bm25"], ["embedding", "tfidf"]),
    "--teacher": (["deterministic", "smollm2"], []),
}
PROFILE_OPTIONS = {
    "--user": (["maya_chen"], ["nobody", ""]),
    "--apps": (["", "calendar,email,weather"], ["spaceship"]),
    "--max-turns": (["2"], ["0"]),
}
AGENT_OPTIONS = {
    "--method": (["lora", "full", "citi"], ["qlora", ""]),
    "--train-cases": (["2"], ["0", "-1"]),
    "--eval-cases": (["2"], ["0"]),
    "--held-out-instructions": (["0.25"], ["0", "1", "1.5"]),
    "--held-out-users": (["0.5"], ["0", "2"]),
    "--epochs": (["1"], ["0"]),
    "--max-steps": (["-1", "5"], []),
    "--lr": (["1e-3"], ["0"]),
    "--full-lr": (["1e-5"], ["0"]),
    "--lora-rank": (["4"], ["0"]),
    "--lora-alpha": (["8"], ["0"]),
    "--batch-size": (["1"], ["0"]),
    "--grad-accum": (["1"], ["0"]),
    "--max-length": (["256"], ["10"]),
    "--max-turns": (["2"], ["0"]),
    "--max-new-tokens": (["16"], ["0"]),
    "--eval-batch-size": (["2"], ["0"]),
}
IMPORTANCE_OPTIONS = {
    "--aggregate": (["sum", "mean"], ["max"]),
    "--batches": (["1"], ["0"]),
    "--max-length": (["64"], ["8"]),
    "--max-examples": (["2"], ["0"]),
}


def _pick(rng: random.Random, table: dict, invalid_share: float) -> tuple[list[str], bool]:
    argv, invalid = [], False
    for option in rng.sample(sorted(table), rng.randrange(1, min(6, len(table)) + 1)):
        good, bad = table[option]
        if bad and rng.random() < invalid_share:
            argv += [option, rng.choice(bad)]
            invalid = True
        else:
            argv += [option, rng.choice(good)]
    return argv, invalid


def _options_case(world: dict, rng: random.Random, case_dir: Path, index: int) -> tuple[list[str], dict]:
    files = world["files"]
    command = ["citi", "continual", "internalize", "agent", "importance"][index % 5]
    share = rng.choice([0.0, 0.2, 0.5])
    out = case_dir / "out"
    invalid_path = False
    if rng.random() < 0.1:  # the output directory would lie under a file
        out = files["blocker"] / "out"
        invalid_path = True
    if command == "citi":
        data, invalid = ["--data", str(files["sft"]), "--eval-size", "2"], False
        table = CITI_OPTIONS
        if rng.random() < 0.2:
            held_out = rng.choice([files["sft"], files["chat"]])
            data += ["--eval-data", str(held_out)]
            invalid = held_out == files["chat"]  # held-out rows without a tool call to score
            table = {**table, "--eval-size": (["1", "6", "100"], ["0", "-1", "x"])}  # unused beside --eval-data
        options, bad = _pick(rng, table, share)
        argv = ["train", "citi", *data, *options, "--out", str(out)]
        invalid |= bad
    elif command == "continual":
        table, invalid = CONTINUAL_OPTIONS, False
        tasks = rng.sample([str(files["weather"]), str(files["volume"])], rng.randrange(1, 3))
        if rng.random() < 0.1:
            tasks, invalid = [str(files["weather"]), str(files["weather_twin"])], True  # one task name twice
        source = ["--tasks", ",".join(tasks), "--test-size", "2"]
        choice = rng.random()
        if choice < 0.2:
            tests = [str(files["weather_test"]), str(files["volume_test"])][: len(tasks)]
            if rng.random() < 0.3:
                tests, invalid = tests + [str(files["volume_test"])], True  # more held-out files than tasks
            source += ["--test-tasks", ",".join(tests)]
            table = {**table, "--test-size": (["1", "6"], ["0", "x"])}  # a sample size of the held-out files
        elif choice < 0.3:
            name, bad_name = rng.choice([("agnews", False), ("TC/agnews", False), ("nosuch", True)])
            bench, bad_bench = rng.choice([(world["cl_benchmark"], False), (str(case_dir / "missing"), True),
                                           (str(files["blocker"]), True)])
            source = ["--cl-benchmark", bench, "--tasks", name, "--test-size", "2"]
            invalid = bad_name or bad_bench
            table = {**table, "--test-size": (["1", "2"], ["0", "x"])}
        options, bad = _pick(rng, table, share)
        argv = ["train", "continual", *source, *options, "--output-dir", str(out)]
        invalid |= bad
        if rng.random() < 0.15:
            target, bad_json = rng.choice([(case_dir / "r.json", False), (case_dir, True),
                                           (files["blocker"] / "r.json", True)])
            argv += ["--json", str(target)]
            invalid |= bad_json
        for flag in ("--per-token", "--single-task", "--first-call-only"):
            if rng.random() < 0.15:
                argv.append(flag)
    elif command == "internalize":
        knowledge = rng.choice(["rules", "rules", "rules", "profile"])
        table = {**INTERNALIZE_OPTIONS, **(RULES_OPTIONS if knowledge == "rules" else PROFILE_OPTIONS)}
        base = ["--user", "maya_chen", "--n-train", "2", "--n-test", "1"] if knowledge == "profile" else []
        options, invalid = _pick(rng, table, share)
        argv = ["train", "internalize", "--knowledge", knowledge, *base, *options, "--output-dir", str(out)]
    elif command == "agent":
        options, invalid = _pick(rng, AGENT_OPTIONS, share)
        argv = ["train", "agent", *options, "--out", str(out)]
        invalid_path = False  # the recipe (stubbed here) owns its directory checks
    else:
        options, invalid = _pick(rng, IMPORTANCE_OPTIONS, share)
        argv = ["importance", "--data", str(files["sft"]), *options, "--out", str(out / "scores.json")]
    if rng.random() < 0.05:
        argv.append(rng.choice(["--bogus", "--seed=", "--epochs=1=2"]))
        invalid = True
    if rng.random() < 0.1 and command != "agent":
        argv.append("--overwrite" if command != "importance" else "--no-general")
    return argv, {"invalid": invalid or invalid_path, "fresh": out if not invalid_path else None}


# --- corrupted output directories ----------------------------------------------------------------------------

def _cut(path: Path, rng: random.Random) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: rng.randrange(0, max(1, len(data) - 1))])


def _corrupt(run: Path, rng: random.Random) -> tuple[set[str], bool]:
    """Damage one or two of the files a resume trusts; returns (damaged paths, settings unusable)."""
    targets = [p for p in run.rglob("*") if p.is_file() and (
        p.name in ("settings.json", "stage_done.json", "result.json", "importance.json", "stage_weights.safetensors")
        or p.name.startswith("scores-"))]
    damaged, settings_broken = set(), False
    for path in rng.sample(targets, rng.randrange(1, min(2, len(targets)) + 1)):
        how = rng.choice(["cut", "garbage", "empty", "wrong type", "delete"])
        if how == "cut":
            _cut(path, rng)
        elif how == "garbage":
            path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))))
        elif how == "empty":
            path.write_bytes(b"")
        elif how == "wrong type":
            path.write_text(rng.choice(["[]", "3", '"x"', "null", '{"global_step": "3"}', '{"method": 1}']))
        else:
            path.unlink()
        damaged.add(str(path.relative_to(run)))
        settings_broken |= path.name == "settings.json"
    return damaged, settings_broken


def _dir_case(world: dict, rng: random.Random, case_dir: Path, index: int) -> tuple[list[str], dict]:
    files = world["files"]
    kind = ["citi", "continual", "internalize"][index % 3]
    run = case_dir / kind
    shutil.copytree(world["runs"] / kind, run)
    changed = rng.random() < 0.3
    if kind == "citi":
        extra = rng.choice([["--seed", "1"], ["--lora-rank", "4"], ["--experts", "2"], ["--max-new-tokens", "3"]])
        argv = ["train", "citi", "--model", world["checkpoint"], "--data", str(files["sft"]), "--method", "base,lora",
                "--out", str(run), *CITI_BASE]
    elif kind == "continual":
        extra = rng.choice([["--lr", "1e-3"], ["--lora-rank", "3"], ["--seed", "2"], ["--test-size", "1"]])
        argv = ["train", "continual", "--model", world["checkpoint"], "--tasks", f"{files['weather']},{files['volume']}",
                "--output-dir", str(run), *CONTINUAL_BASE]
        if rng.random() < 0.3:  # another scorer only rescores: never refused
            argv += ["--scorer", "token"]
    else:
        extra = rng.choice([["--learning-rate", "0.01"], ["--seed", "3"], ["--lora-r", "8"]])
        argv = ["train", "internalize", *INTERNALIZE_BASE, "--output-dir", str(run)]
    if changed:
        argv += extra
    damaged, settings_broken = _corrupt(run, rng) if rng.random() < 0.85 else (set(), False)
    return argv, {"invalid": False, "run": run, "changed": changed, "damaged": damaged,
                  "settings_broken": settings_broken}


def _case(world: dict, index: int, case_dir: Path) -> tuple[list[str], dict]:
    rng = random.Random(SEED + index)
    slot = index % 13
    if slot < 5:
        return _sft_case(world, rng, case_dir)
    if slot < 9 or slot == 12:
        return _options_case(world, rng, case_dir, index)
    return _dir_case(world, rng, case_dir, index)


PROGRESS = re.compile(r"\d+%\||it/s\]|s/it\]")


def _check(code: int, err: str) -> None:
    """No traceback; a failure is one `error:` line (progress bars aside) or click's usage error."""
    assert "Traceback" not in err and code in (0, 1, 2)
    if code:
        shown = [line.split("\r")[-1] for line in err.split("\n")]  # what a terminal shows after redraws
        lines = [line for line in shown if line.strip() and not PROGRESS.search(line)]
        usage = code == 2 and lines and lines[0].startswith("Usage: ") and "Error" in err
        assert usage or (len(lines) == 1 and lines[0].startswith("error: ")), err


@pytest.mark.parametrize("index", range(CASES))
def test_fuzz_train_commands(world, tmp_path, index: int) -> None:
    argv, facts = _case(world, index, tmp_path)
    run = facts.get("run")
    before = _digest(run) if run is not None else None
    loads = world["loader"].calls
    code, _, err = _main(argv)
    _check(code, err)
    reached_a_model = world["loader"].calls > loads
    if facts["invalid"]:
        assert code == 2 and not reached_a_model, (argv, err)
        if "names" in facts:
            assert facts["names"] in err, (facts["what"], err)
        fresh = facts.get("fresh")
        assert fresh is None or not fresh.exists() or not any(fresh.rglob("*.json")), argv
    if code == 1:
        assert BLOCKED in err, err  # the only run failure here: a model would have loaded
    if run is not None:
        after = _digest(run)
        lost = {p for p in before if p not in after or after[p] != before[p]}
        assert not lost, (argv, facts["damaged"], sorted(lost), err)
        if facts["changed"] or facts["settings_broken"]:  # the earlier run's results are never taken for these
            assert code == 2 and not reached_a_model and "settings" in err, (argv, facts["damaged"], err)
            assert facts["settings_broken"] or "->" in err, err


# --- a few corrupted directories resumed for real on the tiny model -------------------------------------------

@pytest.mark.parametrize("damage", ["citi result and stage marker", "continual score row and stage marker"])
def test_corrupted_runs_resume_on_a_tiny_model(world, tmp_path, damage: str) -> None:
    files = world["files"]
    if damage.startswith("citi"):
        run = tmp_path / "citi"
        shutil.copytree(world["runs"] / "citi", run)
        first = json.loads((run / "lora" / "result.json").read_text())
        marker = run / "lora" / "00-lora" / "stage_done.json"
        steps = json.loads(marker.read_text())["global_step"]
        _cut(run / "lora" / "result.json", random.Random(1))
        marker.write_text('{"global_step": 3, "tra')
        keep = {"base/result.json", "settings.json"}
        argv = ["train", "citi", "--model", world["checkpoint"], "--data", str(files["sft"]), "--method",
                "base,lora", "--out", str(run), *CITI_BASE]
    else:
        run = tmp_path / "continual"
        shutil.copytree(world["runs"] / "continual", run)
        scores = run / "seqlora" / "scores-greedy.jsonl"
        first = scores.read_text().splitlines()
        scores.write_text(first[0] + "\n" + first[1][:10])
        (run / "seqlora" / "01-set_volume" / "00-set_volume" / "stage_done.json").write_text("{")
        keep = {"seqlora/00-get_weather/00-get_weather/stage_done.json", "seqlora/settings.json",
                "seqlora/00-get_weather/00-get_weather/stage_weights.safetensors"}
        argv = ["train", "continual", "--model", world["checkpoint"], "--tasks", f"{files['weather']},{files['volume']}",
                "--output-dir", str(run), *CONTINUAL_BASE]
    before = _digest(run)
    world["loader"].allowed = world["checkpoint"]
    try:
        code, out, err = _main(argv)
    finally:
        world["loader"].allowed = None
    assert code == 0 and "Traceback" not in err, err
    after = _digest(run)
    assert all(after[p] == before[p] for p in keep)
    if damage.startswith("citi"):
        again = json.loads((run / "lora" / "result.json").read_text())
        assert again["exact_accuracy"] == first["exact_accuracy"]  # the seed makes the redone stage the same
        assert json.loads(marker.read_text())["global_step"] == steps
    else:
        assert scores.read_text().splitlines() == first
