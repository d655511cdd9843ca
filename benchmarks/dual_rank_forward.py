"""Forward time of the dual-rank (DATA) adapted model relative to the same model with one LoRA of rank 20.

Both adapters have 4 + 16 = 20 ranks on the same linears; the dual-rank model also runs its decomposed
attention router (query from the input embeddings) on every call. Timed in the same run, interleaved,
median of repeats; the printed ratio is dual-rank / LoRA.

    python benchmarks/dual_rank_forward.py [--model smollm2|PATH|random] [--batch 4] [--seq 256] [--repeats 10]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch
from transformers import AutoConfig, AutoModelForCausalLM


def base_model(spec: str) -> torch.nn.Module:
    """The embedded SmolLM2 (or a checkpoint); `random` builds SmolLM2's architecture with random weights."""
    if spec == "random":
        from tooltune.models.embedded import embedded_cache_dir

        config = AutoConfig.from_pretrained(embedded_cache_dir())
        return AutoModelForCausalLM.from_config(config)
    from tooltune.models.registry import load_model

    return load_model(spec).model


def timed_forward(model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor) -> float:
    start = time.perf_counter()
    model(input_ids=ids, attention_mask=mask)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--per-token", action="store_true", help="dual-rank weights per token instead of per sequence")
    args = parser.parse_args()

    from tooltune.adapters import LoRAConfig, inject_adapters
    from tooltune.adapters.dual_rank import DualRankConfig, get_dual_rank

    torch.manual_seed(0)
    base = base_model(args.model).eval()
    lora = copy.deepcopy(base)
    inject_adapters(lora, LoRAConfig(target_modules=list(DualRankConfig().target_modules), r=20, alpha=40))
    dual = base
    inject_adapters(dual, DualRankConfig(per_token=args.per_token))
    routing = get_dual_rank(dual)
    for _ in range(4):  # a router that has seen 4 tasks (32 rows per layer group)
        routing.add_task()
    with torch.no_grad():  # nonzero B so both adapters do real work
        for model in (lora, dual):
            for name, p in model.named_parameters():
                if "lora_B" in name:
                    p.normal_(0, 0.01)
    vocab = base.get_input_embeddings().num_embeddings
    ids = torch.randint(0, vocab, (args.batch, args.seq), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    times: dict[str, list[float]] = {"lora": [], "dual": []}
    with torch.no_grad():
        timed_forward(lora, ids, mask)
        timed_forward(dual, ids, mask)
        for _ in range(args.repeats):  # interleaved, so drifting machine load hits both alike
            times["lora"].append(timed_forward(lora, ids, mask))
            times["dual"].append(timed_forward(dual, ids, mask))
    lora_s, dual_s = statistics.median(times["lora"]), statistics.median(times["dual"])
    print(f"model={args.model} batch={args.batch} seq={args.seq} repeats={args.repeats} "
          f"threads={torch.get_num_threads()} per_token={args.per_token}")
    print(f"LoRA r=20 forward:        {lora_s * 1000:8.1f} ms (median)")
    print(f"dual-rank 4+16 forward:   {dual_s * 1000:8.1f} ms (median)")
    print(f"ratio dual-rank / LoRA:   {dual_s / lora_s:.3f}")


if __name__ == "__main__":
    main()
