"""Teacher-forced scorers against oracle models that see the answer (right everywhere / wrong on one token)."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from tests.methods.test_continual import task
from tests.train.tiny import tiny_tokenizer
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
