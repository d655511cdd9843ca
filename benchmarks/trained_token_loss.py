"""Training-step throughput of the trained-token loss against HF's full-logits loss, on agent trajectories.

The embedded SmolLM2 with LoRA r16 on every linear, bf16 autocast as `train agent` uses on a CPU with bf16
support, one gold trajectory per step (the sandbox's own, as the agent recipe trains on). Both losses are
timed in alternating rounds in one process (the first round is warm-up); the printed ratio is of the
median tokens/s. The loss values are printed too: they must agree.

    .venv/bin/python benchmarks/trained_token_loss.py [--rows 4 --rounds 3 --max-length 2048]
"""

from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4, help="trajectories per round")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (first round is warm-up)")
    parser.add_argument("--max-length", type=int, default=2048)
    args = parser.parse_args()

    import torch

    from tooltune.adapters import LoRAConfig, inject_adapters
    from tooltune.adapters import TARGET_MODULES
    from tooltune.models.dtype import resolve_dtype
    from tooltune.models.embedded import load_embedded_model
    from tooltune.sandbox.export import sft_records
    from tooltune.sandbox.suite import builtin_suite
    from tooltune.train import PaddingCollator, encode_examples
    from tooltune.train.data import pad_token_id
    from tooltune.train.loss import next_token_mask, trained_token_loss

    model, tokenizer = load_embedded_model(dtype="float32")
    inject_adapters(model, LoRAConfig(target_modules=list(TARGET_MODULES), r=16, alpha=32.0), seed=0)
    for name, param in model.named_parameters():
        param.requires_grad_("lora" in name)
    suite = builtin_suite()
    rows = list(sft_records(suite.cases[:: max(1, len(suite.cases) // args.rows)][: args.rows], suite))
    data = encode_examples(tokenizer, rows, args.max_length)
    collate = PaddingCollator(pad_token_id(tokenizer))
    batches = [collate([item]) for item in data]
    tokens = sum(int(b["input_ids"].numel()) for b in batches)
    trained = sum(int((b["labels"] != -100).sum()) for b in batches)
    bf16 = resolve_dtype("auto") == torch.bfloat16
    model.train()

    def full(batch):
        return model(**batch).loss

    def kept(batch):
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        return trained_token_loss(model(**inputs, logits_to_keep=next_token_mask(batch["labels"])), batch["labels"])

    speeds: dict[str, list[float]] = {"HF full-logits loss": [], "trained-token loss": []}
    losses: dict[str, float] = {}
    for round_index in range(args.rounds):
        for name, step in (("HF full-logits loss", full), ("trained-token loss", kept)):
            started = time.perf_counter()
            total = 0.0
            for batch in batches:
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                    loss = step(batch)
                loss.backward()
                model.zero_grad(set_to_none=True)
                total += float(loss.detach())
            if round_index:
                speeds[name].append(tokens / (time.perf_counter() - started))
            losses[name] = total / len(batches)
    print(f"{len(batches)} trajectories, {tokens} tokens ({trained / tokens:.0%} trained), bf16 autocast: {bf16}, "
          f"threads: {torch.get_num_threads()}")
    for name, values in speeds.items():
        print(f"{name:<22} {statistics.median(values):7.1f} tokens/s  mean loss {losses[name]:.4f}")
    reference, ours = (statistics.median(v) for v in speeds.values())
    print(f"trained-token loss / HF full-logits loss: {ours / reference:.2f}x tokens/s")


if __name__ == "__main__":
    main()
