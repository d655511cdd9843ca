"""Evaluation: tool-call scoring, perplexity, multiple-choice log-likelihood, and the retention text."""

from __future__ import annotations

import copy
import json
import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM

from tests.train.tiny import tiny_llama, tiny_tokenizer, tool_example
from tooltune.methods.citi.metrics import cloze_items, general_paragraphs, retention_check
from tooltune.models.scripted import ScriptedModel
from tooltune.models.types import AssistantMessage, ToolCall
from tooltune.train.data import PaddingCollator, encode_examples
from tooltune.train.eval import (
    ChoiceItem,
    choice_scores,
    multiple_choice_accuracy,
    perplexity,
    score_tool_calls,
    tool_call_accuracy,
    tool_call_positions,
)


def test_positions_are_the_gold_tool_calling_turns() -> None:
    positions = tool_call_positions([tool_example("rome"), {"messages": [{"role": "assistant", "content": "x"}]}])
    assert len(positions) == 1
    assert positions[0].gold == [("get_weather", {"city": "rome"})]
    assert [m["role"] for m in positions[0].messages] == ["system", "user"]


def test_scoring_separates_names_arguments_and_missing_calls() -> None:
    examples = [tool_example(c) for c in ("paris", "berlin", "rome", "oslo")]
    answers = {
        "paris": AssistantMessage(tool_calls=[ToolCall("1", "get_weather", {"city": "paris"})]),
        "berlin": AssistantMessage(tool_calls=[ToolCall("1", "get_weather", {"city": "rome"})]),
        "rome": AssistantMessage(tool_calls=[ToolCall("1", "set_volume", {"city": "rome"})]),
        "oslo": AssistantMessage(content="no idea", parse_errors=["bad json"]),
    }
    chat = ScriptedModel(lambda messages, tools: answers[messages[-1]["content"].split()[-1]])
    scores = score_tool_calls(chat, examples, batch_size=3)
    assert scores.positions == 4
    assert scores.exact_accuracy == 0.25 and scores.name_accuracy == 0.5
    assert scores.no_call_rate == 0.25 and scores.parse_error_rate == 0.25
    with pytest.raises(ValueError, match="no assistant turn with tool_calls"):
        score_tool_calls(chat, [{"messages": [{"role": "assistant", "content": "x"}]}])


@pytest.mark.slow
def test_a_model_that_learned_the_call_scores_exactly() -> None:
    """End to end through HFChatModel: memorise one conversation, then generate its tool call."""
    tok = tiny_tokenizer()
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024)
    model = LlamaForCausalLM(config)
    untrained = copy.deepcopy(model)
    example = tool_example("berlin")
    batch = PaddingCollator(tok.pad_token_id)(encode_examples(tok, [example], 1024))
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    model.train()
    for _ in range(150):
        optimizer.zero_grad()
        model(**batch).loss.backward()
        optimizer.step()
    before = tool_call_accuracy(untrained, tok, [example], max_new_tokens=30)
    after = tool_call_accuracy(model, tok, [example], max_new_tokens=30)
    assert before.exact_accuracy == 0.0
    assert after.exact_accuracy == 1.0, after.details
    assert model.training  # restored


def test_perplexity_of_a_uniform_model_is_the_vocabulary_size() -> None:
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok))
    text = "the weather in paris is ok " * 40
    assert perplexity(model, tok, text, window=16, max_windows=4) < len(tok) * 2
    with torch.no_grad():
        model.get_output_embeddings().weight.zero_()  # logits all zero
    assert perplexity(model, tok, text, window=16, max_windows=4) == pytest.approx(model.config.vocab_size)
    with pytest.raises(ValueError, match="window"):
        perplexity(model, tok, "too short", window=64)


class _PrefersToken(nn.Module):
    """Logits that favour one token id everywhere."""

    def __init__(self, vocab: int, token: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(vocab))
        with torch.no_grad():
            self.bias[token] = 5.0

    def forward(self, input_ids, attention_mask=None, use_cache=None, past_key_values=None):
        cache = SimpleNamespace(batch_repeat_interleave=lambda repeats: None)
        return SimpleNamespace(logits=self.bias.expand(*input_ids.shape, -1), past_key_values=cache)


def test_multiple_choice_picks_the_most_likely_continuation() -> None:
    tok = tiny_tokenizer()
    jazz = tok.convert_tokens_to_ids("jazz")
    model = _PrefersToken(len(tok), jazz)
    right = [ChoiceItem("play some", [" rock", " jazz", " music"], answer=1)] * 3
    wrong = [ChoiceItem("play some", [" rock", " jazz", " music"], answer=0)]
    assert multiple_choice_accuracy(model, tok, right) == 1.0
    assert multiple_choice_accuracy(model, tok, right + wrong) == 0.75


def test_choice_scores_with_the_shared_context_equal_whole_sequence_log_likelihoods() -> None:
    tok = tiny_tokenizer()
    model = tiny_llama(len(tok)).eval()
    item = ChoiceItem("the weather in paris is", [" sunny", " rain and wind", " cold"], answer=0)
    context = tok(item.context, add_special_tokens=False)["input_ids"]
    expected = []
    for choice in item.choices:
        ids = context + tok(choice, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logprobs = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0, :-1].float(), dim=-1)
        token_lp = logprobs.gather(-1, torch.tensor(ids[1:]).unsqueeze(-1)).squeeze(-1)
        expected.append(float(token_lp[len(context) - 1:].sum()))
    assert len({len(tok(c, add_special_tokens=False)["input_ids"]) for c in item.choices}) > 1  # padding is used
    assert choice_scores(model, tok, item) == pytest.approx(expected, abs=1e-4)


def test_retention_text_halves_are_disjoint_and_cloze_is_deterministic() -> None:
    calibration, held_out = general_paragraphs("calibration"), general_paragraphs("eval")
    assert len(held_out) > 100 and not set(calibration) & set(held_out)
    items = cloze_items(20, seed=3)
    assert items == cloze_items(20, seed=3) and items != cloze_items(20, seed=4)
    for item in items:
        assert len(item.choices) == 4 and len(set(item.choices)) == 4
        assert item.context.split()[-1] not in item.choices[item.answer]
    with pytest.raises(ValueError, match="split"):
        general_paragraphs("train")


def test_retention_check_runs_on_a_model() -> None:
    tok = tiny_tokenizer()
    scores = retention_check(tiny_llama(len(tok)), tok, window=32, max_windows=2, cloze_count=8)
    assert math.isfinite(scores.general_perplexity) and 0.0 <= scores.cloze_accuracy <= 1.0
    assert json.dumps(scores.summary())
