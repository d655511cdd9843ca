"""Cost of constrained tool calls on the embedded SmolLM2, against unconstrained decoding in the same run.

One batch of 8 short benchmark prompts (8 cases, each with one of its tools, FC text protocol) decodes N tokens
greedily three times: unconstrained, tool_choice "auto" (the default), tool_choice "required" (every row
inside a grammar-checked call). A timing processor stamps every decode step, so the per-step times exclude
the prompt's prefill; the grammar's own time per step (token accept, mask fill, mask apply) is measured
around it too. The last line is that grammar time over the unconstrained step time (the worse of the two
modes): the processor is the only work constrained decoding adds. Also:
the TokenizerInfo build and grammar compile times (cold and cached).

Usage: .venv/bin/python benchmarks/bench_grammar.py [--rows 8] [--tokens 32] [--repeats 2] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from transformers import LogitsProcessor, LogitsProcessorList  # noqa: E402

from tooltune.models.embedded import load_embedded_model  # noqa: E402
from tooltune.models.grammar import ToolGrammars, tokenizer_info  # noqa: E402
from tooltune.models.hf_local import HFChatModel, control_tokens  # noqa: E402
from tooltune.models.types import ChatRequest, GenerationConfig  # noqa: E402
from tooltune.sandbox.prompts import episode_messages  # noqa: E402
from tooltune.sandbox.suite import builtin_suite  # noqa: E402


class StepClock(LogitsProcessor):
    """Records when each decode step reaches the logits processors."""

    def __init__(self) -> None:
        self.stamps: list[float] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        self.stamps.append(time.perf_counter())
        return scores


class Timed(LogitsProcessor):
    """Wraps a processor and adds up the time spent in it."""

    def __init__(self, inner: LogitsProcessor) -> None:
        self.inner = inner
        self.seconds = 0.0
        self.calls = 0

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        start = time.perf_counter()
        scores = self.inner(input_ids, scores)
        self.seconds += time.perf_counter() - start
        self.calls += 1
        return scores


def requests_for(rows: int, choice: str | None) -> list[ChatRequest]:
    """Short prompts (a case's query + its first tool), so that prefill stays cheap on a CPU; a longer
    prompt makes each model step slower and the grammar's share smaller, so this is the harder case."""
    suite = builtin_suite()
    one_per_instruction = list({c.instruction.id: c for c in suite.cases}.values())
    cases = one_per_instruction[:: max(1, len(one_per_instruction) // rows)][:rows]  # spread over the apps
    out = []
    for case in cases:
        with suite.open_world(case) as world:
            tools = world.tool_schemas(list(case.instruction.tools)[:1])
        query = [m for m in episode_messages(case, include_profile=False) if m["role"] == "user"][-1]
        out.append(ChatRequest([query], tools, choice))
    return out


def decode(chat: HFChatModel, requests: list[ChatRequest], tokens: int, constrained: bool) -> tuple[list[float], float]:
    """Per-step wall times (prefill excluded) and the grammar's seconds per step, for one greedy batch."""
    prompts = [chat.render_prompt(r.messages, r.tools, r.tool_choice) for r in requests]
    batch = chat.tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left", add_special_tokens=False)
    clock = StepClock()
    processors = [clock]
    grammar = None
    if constrained:
        grammar = Timed(chat.grammar_processor([r.tool_constraint() for r in requests]))
        processors.insert(0, grammar)
    kwargs = chat._generate_kwargs(GenerationConfig(max_new_tokens=tokens))  # what chat_batch passes (greedy)
    with torch.inference_mode():
        chat.model.generate(**batch, **kwargs, logits_processor=LogitsProcessorList(processors))
    steps = [b - a for a, b in zip(clock.stamps, clock.stamps[1:])]
    per_step_grammar = grammar.seconds / grammar.calls if grammar else 0.0
    return steps, per_step_grammar


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads (1: on a shared 2-core machine two threads thrash against other jobs)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model, tokenizer = load_embedded_model()
    chat = HFChatModel(model, tokenizer, name="smollm2")
    vocab = model.get_output_embeddings().weight.shape[0]
    blocked = tokenizer.convert_tokens_to_ids(sorted(control_tokens(tokenizer)))

    start = time.perf_counter()
    info = tokenizer_info(tokenizer, vocab, sorted(chat._stop_ids()), blocked)
    info_seconds = time.perf_counter() - start
    cold = ToolGrammars(info)
    auto, required = requests_for(args.rows, "auto"), requests_for(args.rows, "required")
    for request in auto + required:
        cold.compile(request.tool_constraint())
    compiled = cold.misses
    start = time.perf_counter()
    for request in auto + required:
        cold.compile(request.tool_constraint())
    cached = (time.perf_counter() - start) / len(auto + required)
    print(f"TokenizerInfo (SmolLM2, {vocab} tokens): {info_seconds * 1000:.0f} ms, once per tokenizer")
    print(f"grammar compile: {cold.compile_seconds / compiled * 1000:.1f} ms per tool set x choice "
          f"(cold, mean of {compiled}), {cached * 1e6:.0f} us cached")

    chat.tool_grammars()  # warm: the runs below measure decoding, not compilation
    decode(chat, auto, 4, True)  # warm-up (first-call allocations)
    modes = (("free", auto, False), ("auto", auto, True), ("required", required, True))
    steps: dict[str, list[float]] = {name: [] for name, _, _ in modes}
    grammar_seconds: dict[str, list[float]] = {name: [] for name, _, _ in modes}
    for _ in range(args.repeats):  # interleaved, so that load from other jobs hits every mode alike
        for name, requests, constrained in modes:
            step_times, per_step = decode(chat, requests, args.tokens, constrained)
            steps[name] += step_times
            grammar_seconds[name].append(per_step)
    results = {name: (statistics.median(steps[name]), statistics.mean(grammar_seconds[name])) for name in steps}
    free = results["free"][0]
    print(f"\n{args.rows} rows x {args.tokens} new tokens, greedy, {args.threads} torch thread(s), "
          "median decode step (prefill excluded):")
    print(f"{'mode':<10} {'ms/step':>8} {'ratio':>7} {'grammar ms/step':>16} {'grammar share':>14}")
    for name, (step, grammar_step) in results.items():
        print(f"{name:<10} {step * 1000:8.2f} {step / free:7.3f} {grammar_step * 1000:16.3f} {grammar_step / free:14.1%}")
    # The grammar is the only work added per step, so its measured time over the free step is the overhead;
    # the end-to-end ratios above agree within the noise of a shared machine.
    worst = max(results["auto"][1], results["required"][1])
    print(f"grammar overhead {worst / free * 100:.1f} %")


if __name__ == "__main__":
    main()
