"""The runner over a real (tiny, in-memory) transformers model: batched generation drives every strategy."""

from __future__ import annotations

from pathlib import Path

from tests.bench.fakes import FakeSuite, fake_check, fake_opening
from tests.train.tiny import tiny_llama, tiny_tokenizer
from tooltune.bench.config import RunConfig
from tooltune.bench.runner import Harness, Runner
from tooltune.bench.store import RunStore
from tooltune.models.hf_local import HFChatModel


class CountingHF(HFChatModel):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.batch_sizes: list[int] = []

    def chat_batch(self, requests, config=None):
        self.batch_sizes.append(len(requests))
        return super().chat_batch(requests, config)


def test_tiny_hf_model_runs_batched_episodes(tmp_path: Path) -> None:
    tokenizer = tiny_tokenizer()
    model = CountingHF(tiny_llama(vocab_size=len(tokenizer)), tokenizer, name="tiny")
    suite = FakeSuite(n_users=2, n_instructions=1)
    # (ReAct's stop string needs a BPE-like tokenizer; transformers cannot compile it for this word-level one)
    config = RunConfig(model="tiny", strategies=["fc", "plan"], max_turns=2, max_new_tokens=4, batch_size=4)
    runner = Runner(model, suite, config, RunStore(tmp_path), Harness(suite.open_world, fake_opening, fake_check),
                    progress=False)
    assert not runner.asynchronous and model.supports_batching
    counts = runner.run()
    assert counts == {"done": 4, "failed": 0, "skipped": 0}, runner.store.failures()
    assert max(model.batch_sizes) > 1  # several episodes advanced by one generate call
    for record in runner.store.records():
        assert 1 <= record.turns <= 2 and record.finish_reason in ("answer", "max_turns")
        assert record.completion_tokens > 0
        assert any(m["role"] == "assistant" for m in record.trajectory)
