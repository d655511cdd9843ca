"""How long the embedded SmolLM2 takes to load: first load (GGUF -> safetensors cache) vs cached load.

Runs in a fresh temporary cache directory so the first load is really cold, imports torch/transformers
before timing (so neither number includes import time), and prints both times and their ratio.

    .venv/bin/python benchmarks/load_model.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="cached loads to time (the median is reported)")
    args = parser.parse_args()

    import_start = time.perf_counter()
    import transformers  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: F401

    from tooltune.models.embedded import find_gguf, load_embedded_model

    imports = time.perf_counter() - import_start
    gguf = find_gguf()
    with tempfile.TemporaryDirectory(prefix="tooltune-bench-") as scratch:
        root = Path(scratch)
        start = time.perf_counter()
        model, _ = load_embedded_model(root)
        first = time.perf_counter() - start
        del model
        cached = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            model, _ = load_embedded_model(root)
            cached.append(time.perf_counter() - start)
            del model
        cache_bytes = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())

    median = statistics.median(cached)
    print(f"gguf:                {gguf.name} ({gguf.stat().st_size / 1e6:.0f} MB)")
    print(f"cache size:          {cache_bytes / 1e6:.0f} MB (float32 safetensors + tokenizer)")
    print(f"import torch+transformers: {imports:.2f} s (not included below)")
    print(f"first load (GGUF):   {first:.2f} s")
    print(f"cached load:         {median:.2f} s (median of {len(cached)}: {', '.join(f'{t:.2f}' for t in cached)})")
    print(f"ratio first/cached:  {first / median:.1f}x")


if __name__ == "__main__":
    main()
