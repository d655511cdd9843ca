"""Benchmark throughput of the local model on the demo subset: today's fp32 path against bf16 and the
constrained bf16 path, all measured in this one run (and a llama.cpp server when one can be started).

For each path: episodes/s, prompt and completion tokens/s, wall time, well-formed-call rate; then how often
greedy answers agree between fp32 and bf16 (first answers of each episode, and whole trajectories).
The last line reads `speedup X.XX`: the best local path's episodes/s over today's fp32 path's.

    .venv/bin/python benchmarks/bench_throughput.py [--limit 12] [--llama-cpp] [--paths bf16,prefix24]

llama.cpp serves the GGUF the package ships (Q4_1 weights); the local paths run the same model in bf16/fp32.

llama.cpp: with `llama-cpp-python[server]` installed, `--llama-cpp` starts its OpenAI-compatible server on
127.0.0.1 over the embedded GGUF and runs the same episodes through tooltune's HTTP backend one at a time
(single stream), so the local paths' generation throughput can be set against it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


@dataclass
class PathResult:
    name: str
    seconds: float
    episodes: int
    prompt_tokens: int
    completion_tokens: int
    well_formed: float | None
    answers: dict[str, list[str]]

    def row(self) -> str:
        well = "n/a" if self.well_formed is None else f"{self.well_formed:.3f}"
        return (f"{self.name:<44} {self.seconds:7.1f} s  {self.episodes / self.seconds:6.3f} ep/s  "
                f"{self.prompt_tokens / self.seconds:7.1f} prompt tok/s  "
                f"{self.completion_tokens / self.seconds:6.1f} completion tok/s  well-formed {well}")


def run_path(name: str, model: Any, settings: dict[str, Any], workdir: Path) -> PathResult:
    """One benchmark run of the demo subset with an already loaded model; timing excludes loading."""
    from tooltune.bench.config import RunConfig
    from tooltune.bench.run import run_benchmark
    from tooltune.bench.store import RunStore

    config = RunConfig(model=name, **settings)
    run_dir = workdir / name.replace(" ", "_").replace("/", "_")
    started = time.perf_counter()
    result = run_benchmark(config, run_dir, model=model, progress=False)
    seconds = time.perf_counter() - started
    if result.counts["failed"]:
        raise SystemExit(f"{name}: {result.counts['failed']} episodes failed: {next(iter(result.failures.values()))}")
    store = RunStore(run_dir)
    records = list(store.records())
    store.close()
    answers = {r.key.id: [m.get("content") or json.dumps(m.get("tool_calls")) for m in r.trajectory
                          if m.get("role") == "assistant"] for r in records}
    calls = sum(len(r.calls) for r in records)
    malformed = sum(len(r.malformed) for r in records)
    return PathResult(name, seconds, len(records), sum(r.prompt_tokens for r in records),
                      sum(r.completion_tokens for r in records),
                      calls / (calls + malformed) if calls + malformed else None, answers)


def agreement(a: PathResult, b: PathResult) -> tuple[float, float]:
    """Share of episodes whose first answers are identical, and whose whole trajectories are."""
    keys = sorted(set(a.answers) & set(b.answers))
    first = sum(a.answers[k][:1] == b.answers[k][:1] for k in keys) / len(keys)
    whole = sum(a.answers[k] == b.answers[k] for k in keys) / len(keys)
    return first, whole


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_llama_cpp(gguf: Path, port: int) -> subprocess.Popen:
    """llama-cpp-python's OpenAI-compatible server over the GGUF; waits until it answers."""
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
               "--port", str(port), "--n_ctx", "8192", "--n_threads", str(os.cpu_count() or 2)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(1)
    server.kill()
    raise SystemExit("llama.cpp server did not start within 120 s")


PATHS = {  # key: (name, dtype, grammar, prefix cache, batch size); a fresh model each, so no cache carries over
    "today": ("today: float32, free, batch 12", "float32", False, False, 12),
    "bf16": ("bfloat16, free, batch 12", "bfloat16", False, False, 12),
    "grammar": ("bfloat16, grammar, batch 12", "bfloat16", True, False, 12),
    "prefix12": ("bfloat16, grammar + prefix cache, batch 12", "bfloat16", True, True, 12),
    "prefix24": ("bfloat16, grammar + prefix cache, batch 24", "bfloat16", True, True, 24),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--max-turns", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument("--llama-cpp", action="store_true", help="also measure a llama.cpp server (single stream)")
    parser.add_argument("--paths", default="bf16,grammar,prefix12,prefix24",
                        help=f"local paths besides today's fp32 one, comma-separated, from {sorted(PATHS)}")
    args = parser.parse_args()

    from tooltune.models.embedded import find_gguf, load_embedded_model
    from tooltune.models.hf_local import HFChatModel

    demo = {"limit": args.limit, "seed": 0, "strategies": ["fc", "react"], "max_turns": args.max_turns,
            "max_new_tokens": args.max_new_tokens}
    results: list[PathResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        paths = [PATHS[key] for key in ["today", *(k for k in args.paths.split(",") if k and k != "today")]]
        weights = {dtype: load_embedded_model(dtype=dtype) for dtype in {path[1] for path in paths}}
        for name, dtype, grammar, prefix, batch in paths:
            chat = HFChatModel(*weights[dtype], name="smollm2", constrained=grammar, prefix_cache=prefix)
            results.append(run_path(name, chat, {**demo, "batch_size": batch}, workdir))
        if args.llama_cpp:
            port = free_port()
            server = start_llama_cpp(find_gguf(), port)
            try:
                from tooltune.models.openai_http import OpenAIChatModel

                remote = OpenAIChatModel(f"http://127.0.0.1:{port}/v1", "smollm2")
                results.append(run_path("llama.cpp server single stream", remote, {**demo, "concurrency": 1}, workdir))
                remote.close()
            finally:
                server.kill()

    print(f"demo subset: {args.limit} cases x fc, react; at most {args.max_turns} turns, "
          f"{args.max_new_tokens} new tokens per turn; greedy")
    for result in results:
        print(result.row())
    today = results[0]
    bf16_free = next((r for r in results if r.name == PATHS["bf16"][0]), None)
    if bf16_free is not None:
        first, whole = agreement(results[0], bf16_free)
        print(f"fp32 vs bf16 greedy agreement (unconstrained): first answers {first:.3f}, "
              f"whole trajectories {whole:.3f}")
    local = [r for r in results if not r.name.startswith("llama.cpp")]
    best = max(local, key=lambda r: r.episodes / r.seconds)
    for result in local[1:]:
        print(f"{result.name}: {today.seconds / result.seconds:.2f}x today's fp32 path")
    remote = [r for r in results if r.name.startswith("llama.cpp")]
    if remote:
        ratio = (best.completion_tokens / best.seconds) / (remote[0].completion_tokens / remote[0].seconds)
        print(f"generation throughput {best.name} / llama.cpp single stream: {ratio:.2f}x")
    print(f"speedup {today.seconds / best.seconds:.2f}")


if __name__ == "__main__":
    main()
