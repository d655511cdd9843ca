"""Training-step time of MoLoRA (4 experts, rank 8) against PEFT LoRA (rank 32) on the embedded SmolLM2.

Both adapters sit on all seven linear kinds of every layer, so they train the same expert parameters
(4 x 8 = 32 rank units per module; MoLoRA adds its small routers). One step = forward + backward + AdamW
update on the same random batch. The two are timed in alternating rounds within one process so that load
from other work on the machine hits both alike; the ratio of medians is printed.

    .venv/bin/python benchmarks/molora_step.py [--batch 4 --seq 128 --rounds 4 --steps 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def timed_steps(model, optimizer, batch, steps: int) -> list[float]:
    """Wall time of each of `steps` full training steps."""
    import torch

    times = []
    for _ in range(steps):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = model(**batch).loss
        for module in model.modules():  # MoLoRA's balance loss, as the trainer adds it
            aux = module.auxiliary_loss() if hasattr(module, "auxiliary_loss") else None
            if isinstance(aux, torch.Tensor):
                loss = loss + aux
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds (first round is warm-up)")
    parser.add_argument("--steps", type=int, default=2, help="steps per method per round")
    parser.add_argument("--top-k", type=int, default=None, help="MoLoRA top-k routing (default: dense)")
    args = parser.parse_args()

    import torch
    from peft import LoraConfig, get_peft_model

    from tooltune.adapters import MoLoRAConfig, inject_adapters
    from tooltune.models.embedded import load_embedded_model

    torch.manual_seed(0)
    base, _ = load_embedded_model()
    lora_model = get_peft_model(base, LoraConfig(r=32, lora_alpha=64, target_modules=TARGETS, lora_dropout=0.0))
    molora_model, _ = load_embedded_model()
    inject_adapters(molora_model, MoLoRAConfig(target_modules=TARGETS, num_experts=4, r=8, alpha=2.0,
                                               top_k=args.top_k, routing_weight=0.01))
    models = {"peft-lora-r32": lora_model, "molora-4x8": molora_model}
    vocab = base.config.vocab_size
    ids = torch.randint(0, vocab, (args.batch, args.seq))
    batch = {"input_ids": ids, "labels": ids.clone(), "attention_mask": torch.ones_like(ids)}
    optimizers = {name: torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-4)
                  for name, m in models.items()}
    for model in models.values():
        model.train()
    times: dict[str, list[float]] = {name: [] for name in models}
    for round_index in range(args.rounds):
        order = list(models) if round_index % 2 == 0 else list(reversed(models))
        for name in order:
            measured = timed_steps(models[name], optimizers[name], batch, args.steps)
            if round_index > 0:
                times[name].extend(measured)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch} x {args.seq} tokens, "
          f"routing {'top-%d' % args.top_k if args.top_k else 'dense'}")
    for name, model in models.items():
        med = statistics.median(times[name])
        print(f"{name:14s} trainable {trainable(model):>10,}  step median {med:.3f} s  "
              f"({len(times[name])} steps: {', '.join(f'{t:.2f}' for t in times[name])})")
    ratio = statistics.median(times["molora-4x8"]) / statistics.median(times["peft-lora-r32"])
    fastest = min(times["molora-4x8"]) / min(times["peft-lora-r32"])
    print(f"ratio molora/peft-lora step time: {ratio:.2f} (medians); {fastest:.2f} (fastest steps, least disturbed "
          "by other load)")


if __name__ == "__main__":
    main()
