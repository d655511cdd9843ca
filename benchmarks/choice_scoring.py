"""Multiple-choice scoring time: `choice_scores` (the context runs once, its KV cache is repeated for the
choices) against the reference that runs every choice as a whole sequence (context + choice, one padded
batch per item, as the scorer did before), on the embedded SmolLM2 and zero-shot items of a CL_Benchmark task
(TC/dbpedia: 14 labels, so 14 sequences per item). Both score the same items in alternating rounds within one
process; the ratio of medians and both accuracies are printed.

    .venv/bin/python benchmarks/choice_scoring.py --cl-benchmark path/to/cl_benchmark [--items 10 --rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import time


def whole_sequence_scores(model, tokenizer, item) -> list[float]:
    """The reference: every choice appended to the context and run in one right-padded batch."""
    import torch

    context = tokenizer(item.context, add_special_tokens=False)["input_ids"]
    rows = [context + tokenizer(c, add_special_tokens=False)["input_ids"] for c in item.choices]
    width = max(len(r) for r in rows)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    batch = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(input_ids=batch, attention_mask=mask).logits[:, :-1].float(), dim=-1)
    token_lp = logprobs.gather(-1, batch[:, 1:].unsqueeze(-1)).squeeze(-1)
    return [float(token_lp[i, len(context) - 1:len(r) - 1].sum()) for i, r in enumerate(rows)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cl-benchmark", required=True)
    parser.add_argument("--task", default="TC/dbpedia")
    parser.add_argument("--items", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from tooltune.methods.citi.metrics import task_items
    from tooltune.methods.continual.cl_benchmark import load_cl_task
    from tooltune.models.registry import load_trainable
    from tooltune.train.eval import choice_scores

    model, tokenizer = load_trainable("smollm2")
    model.eval()
    items = task_items(tokenizer, load_cl_task(args.cl_benchmark, args.task, "test"), args.items, seed=0)
    scorers = {"shared context": lambda item: choice_scores(model, tokenizer, item),
               "whole sequences": lambda item: whole_sequence_scores(model, tokenizer, item)}
    times: dict[str, list[float]] = {name: [] for name in scorers}
    right: dict[str, int] = {}
    for _ in range(args.rounds):
        for name, score in scorers.items():
            start = time.perf_counter()
            picks = [max(range(len(s)), key=s.__getitem__) for s in map(score, items)]
            times[name].append(time.perf_counter() - start)
            right[name] = sum(p == item.answer for p, item in zip(picks, items))
    for name in scorers:
        print(f"{name:>16}: {statistics.median(times[name]):7.2f} s for {len(items)} items, "
              f"{right[name]}/{len(items)} right")
    ratio = statistics.median(times["whole sequences"]) / statistics.median(times["shared context"])
    print(f"speed-up of the shared context: {ratio:.1f}x")


if __name__ == "__main__":
    main()
