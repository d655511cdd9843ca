"""Teacher-forced scorers against oracle models that see the answer (right everywhere / wrong on one token)."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from tests.methods.test_continual import task
from tests.train.tiny import tiny_tokenizer
from tooltune.methods.continual.experiment import choose_scorer
from tooltune.methods.continual.scoring import greedy_turn_accuracy, token_accuracy
from tooltune.train.data import encode_examples


class Oracle(nn.Module):
    """Predicts the true next token, except at the first supervised position of rows in `wrong_rows`."""

    def __init__(self, vocab: int, wrong_rows: set[int]) -> None:
        super().__init__()
        self.vocab, self.wrong_rows, self.seen = vocab, wrong_rows, 0
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, attention_mask, labels):
        nxt = torch.roll(input_ids, -1, 1)
        for row in range(input_ids.shape[0]):
            if self.seen + row in self.wrong_rows:
                first = int((labels[row] != -100).nonzero()[0]) - 1
                nxt[row, first] = (nxt[row, first] + 1) % self.vocab
        self.seen += input_ids.shape[0]
        return SimpleNamespace(logits=nn.functional.one_hot(nxt, self.vocab).float())


def test_scorers_count_turns_and_tokens() -> None:
    tokenizer = tiny_tokenizer(extra_words=["please"])
    examples = task("get_weather").train  # 4 examples, one assistant turn each
    vocab = len(tokenizer)
    assert greedy_turn_accuracy(Oracle(vocab, set()), tokenizer, examples, 256, batch_size=3) == 1.0
    assert token_accuracy(Oracle(vocab, set()), tokenizer, examples, 256) == 1.0
    assert greedy_turn_accuracy(Oracle(vocab, {1}), tokenizer, examples, 256, batch_size=3) == 0.75
    supervised = sum(sum(1 for v in e["labels"] if v != -100) for e in encode_examples(tokenizer, examples, 256))
    assert token_accuracy(Oracle(vocab, {0, 2}), tokenizer, examples, 256) == (supervised - 2) / supervised


class AutocastProbe(Oracle):
    """An oracle that records whether each forward pass ran under bf16 autocast."""

    def __init__(self, vocab: int) -> None:
        super().__init__(vocab, set())
        self.autocast: list[bool] = []

    def forward(self, input_ids, attention_mask, labels):
        self.autocast.append(torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16)
        return super().forward(input_ids, attention_mask, labels)


def test_bf16_scoring_runs_under_autocast_and_is_a_cached_setting() -> None:
    tokenizer = tiny_tokenizer(extra_words=["please"])
    tasks = [task("get_weather")]
    for bf16 in (False, True):
        name, scorer, settings = choose_scorer("greedy", tasks, 256, 32, bf16=bf16)
        probe = AutocastProbe(len(tokenizer))
        assert scorer(probe, tokenizer, tasks[0].train) == 1.0
        assert probe.autocast and all(seen == bf16 for seen in probe.autocast)
        assert settings.get("bf16", False) == bf16  # rows scored under bf16 are not reused for fp32 and back
