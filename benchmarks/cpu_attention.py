"""tooltune's CPU generation path (grouped key/value heads, additive masks, a cache appended in place) against
transformers' (sdpa with repeated heads and boolean masks, `DynamicCache` appended by `torch.cat`).

Two measurements, both in this one run:
1. one attention layer of SmolLM2's shape (9 query heads, 3 key/value heads, head dim 64), bf16, a left-padding
   mask, for a prefill chunk (--chunk tokens) and a decode step, at --context tokens: transformers' way
   (repeated heads for a prefill, packed heads for a decode step, boolean mask) against tooltune's, and the
   per-token cost of appending to the cache (a copy by `torch.cat` against a write into a buffer);
2. the embedded SmolLM2 in bf16 answering --rows agent conversations in one batch (the sandbox's gold
   trajectories cut after their third tool result, so the context is long, as in a benchmark's later
   turns), --new-tokens greedy tokens, in alternating rounds (the first is warm-up). The answers must be equal.

The last line reads `speedup X.XX`: batched generation, tooltune's path over transformers' (median time).

    .venv/bin/python benchmarks/cpu_attention.py [--rows 16 --new-tokens 48 --rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time


def layer_times(context: int, chunk: int, rows: int = 16, repeats: int = 5) -> None:
    """Print one layer's time the transformers way and the tooltune way."""
    import torch
    import torch.nn.functional as F

    heads, groups, dim = 9, 3, 64
    for queries in (chunk, 1):
        q = torch.randn(rows, heads, queries, dim, dtype=torch.bfloat16)
        k = torch.randn(rows, groups, context, dim, dtype=torch.bfloat16)
        v = torch.randn_like(k)
        mask = torch.ones(rows, 1, queries, context, dtype=torch.bool).tril(context - queries)
        mask[: rows // 2, :, :, :64] = False  # left padding in half the rows
        additive = torch.zeros(mask.shape, dtype=torch.bfloat16).masked_fill_(~mask, torch.finfo(torch.bfloat16).min)
        packed = q.reshape(rows, groups, heads // groups, dim) if queries == 1 else None

        def transformers_way() -> torch.Tensor:
            if packed is not None:
                return F.scaled_dot_product_attention(packed, k, v, attn_mask=mask)
            return F.scaled_dot_product_attention(q, k.repeat_interleave(heads // groups, dim=1),
                                                  v.repeat_interleave(heads // groups, dim=1), attn_mask=mask)

        def tooltune_way() -> torch.Tensor:
            if packed is not None:
                return F.scaled_dot_product_attention(packed, k, v, attn_mask=additive)
            return F.scaled_dot_product_attention(q, k, v, attn_mask=additive, enable_gqa=True)

        times = {}
        for name, run in (("transformers", transformers_way), ("tooltune", tooltune_way)):
            run()
            started = time.perf_counter()
            for _ in range(repeats):
                run()
            times[name] = (time.perf_counter() - started) / repeats
        print(f"one layer, {rows} rows, {queries} query token(s) over {context}: transformers "
              f"{times['transformers'] * 1e3:.1f} ms, tooltune {times['tooltune'] * 1e3:.1f} ms "
              f"({times['transformers'] / times['tooltune']:.2f}x)")
    token = torch.randn(rows, groups, 1, dim, dtype=torch.bfloat16)
    buffer = torch.empty(rows, groups, context + 256, dim, dtype=torch.bfloat16)
    appends = {"torch.cat": lambda: torch.cat([k, token], dim=-2),
               "write in place": lambda: buffer[:, :, context:context + 1].copy_(token)}
    for name, run in appends.items():
        run()
        started = time.perf_counter()
        for _ in range(repeats):
            run()
        print(f"appending one token's keys to {context} cached ({rows} rows), {name}: "
              f"{(time.perf_counter() - started) / repeats * 1e3:.2f} ms per layer (and as much for the values)")


def long_requests(rows: int) -> list:
    """`rows` sandbox conversations cut after their third tool result (or their last one)."""
    from tooltune.models.types import ChatRequest
    from tooltune.sandbox.export import sft_records
    from tooltune.sandbox.suite import builtin_suite

    suite = builtin_suite()
    requests = []
    for record in sft_records(suite.cases, suite):
        messages = record["messages"]
        tool_turns = [i for i, m in enumerate(messages) if m["role"] == "tool"]
        if len(tool_turns) >= 2:
            cut = tool_turns[min(2, len(tool_turns) - 1)] + 1
            requests.append(ChatRequest(messages[:cut], record.get("tools")))
        if len(requests) == rows:
            return requests
    return requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (the first is warm-up)")
    parser.add_argument("--context", type=int, default=3000)
    parser.add_argument("--chunk", type=int, default=300)
    args = parser.parse_args()

    from contextlib import nullcontext

    from tooltune.models import attention
    from tooltune.models.embedded import load_embedded_chat_model
    from tooltune.models.types import GenerationConfig

    layer_times(args.context, args.chunk)
    model = load_embedded_chat_model(dtype="bfloat16")
    model.prefix_cache = None  # every round computes the same prompts afresh
    requests = long_requests(args.rows)
    config = GenerationConfig(max_new_tokens=args.new_tokens, temperature=0.0, seed=0)
    switch = attention.cpu_attention
    times: dict[str, list[float]] = {"tooltune": [], "transformers": []}
    answers: dict[str, list[str]] = {}
    for round_index in range(args.rounds):
        for name in times:
            attention.cpu_attention = switch if name == "tooltune" else (lambda model: nullcontext())
            model.appends_in_place = name == "tooltune"
            started = time.perf_counter()
            out = model.chat_batch(requests, config)
            if round_index:
                times[name].append(time.perf_counter() - started)
            answers[name] = [a.raw_text or "" for a in out]
    attention.cpu_attention = switch
    prompt_tokens = sum(len(model.tokenizer(model.render_prompt(r.messages, r.tools, None))["input_ids"])
                        for r in requests)
    ours, theirs = statistics.median(times["tooltune"]), statistics.median(times["transformers"])
    print(f"generation: {len(requests)} conversations, {prompt_tokens} prompt tokens, {args.new_tokens} new tokens each")
    print(f"tooltune's path {ours:.1f} s, transformers' {theirs:.1f} s (median of {args.rounds - 1})")
    print(f"greedy answers equal: {answers['tooltune'] == answers['transformers']}")
    print(f"speedup {theirs / ours:.2f}")


if __name__ == "__main__":
    main()
