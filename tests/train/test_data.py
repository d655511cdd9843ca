"""SFT data: validation, chat-template rendering with tools, assistant-only labels, padding."""

from __future__ import annotations

import json

import pytest

from tests.train.tiny import CHATML, tiny_llama, tiny_tokenizer, tool_example
from tooltune.errors import UsageError
from tooltune.models.hf_local import HFChatModel, template_renders_tools
from tooltune.train.data import (
    IGNORE_INDEX,
    PaddingCollator,
    SFTDataError,
    encode_chat,
    encode_examples,
    load_sft_jsonl,
)


def _assistant_text(tokenizer, encoded) -> str:
    return tokenizer.decode([t for t, lab in zip(encoded["input_ids"], encoded["labels"]) if lab != IGNORE_INDEX])


def test_labels_cover_exactly_the_assistant_turns() -> None:
    tok = tiny_tokenizer()
    example = tool_example("berlin")
    encoded = encode_chat(tok, example["messages"], example["tools"], max_length=2048)
    learned = _assistant_text(tok, encoded)
    assert learned == ('<tool_call>{"name": "get_weather", "arguments": {"city": "berlin"}}</tool_call>'
                       "<|im_end|>\nthe weather in berlin is ok<|im_end|>\n")
    full = tok.decode(encoded["input_ids"])
    assert "what is the weather in berlin" in full and "get_weather" in full.split("<|im_start|>user")[0]
    assert len(encoded["input_ids"]) == len(encoded["labels"]) == len(encoded["attention_mask"])


def test_native_tool_template_is_used_when_available() -> None:
    tok = tiny_tokenizer()
    tok.chat_template = (
        "{% if tools %}{{ '<|im_start|>system\ntools ' + tools|map(attribute='function.name')|join(' ') + '<|im_end|>\n' }}"
        "{% endif %}{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\n' }}{% if m.get('tool_calls') %}"
        "{{ 'call ' + m['tool_calls'][0]['function']['name'] }}{% else %}{{ m['content'] }}{% endif %}"
        "{{ '<|im_end|>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
    assert template_renders_tools(tok)
    example = tool_example()
    encoded = encode_chat(tok, example["messages"], example["tools"], max_length=2048)
    assert tok.decode(encoded["input_ids"]).startswith("<|im_start|>system\ntools get_weather<|im_end|>")
    assert _assistant_text(tok, encoded) == "call get_weather<|im_end|>\nthe weather in paris is ok<|im_end|>\n"


def test_training_text_equals_the_inference_prompt() -> None:
    tok = tiny_tokenizer()
    assert tok.chat_template == CHATML and not template_renders_tools(tok)
    example = tool_example()
    encoded = encode_chat(tok, example["messages"], example["tools"], max_length=2048)
    chat = HFChatModel(tiny_llama(len(tok)), tok)
    for i, message in enumerate(example["messages"]):
        if message["role"] == "assistant":  # the prompt at each assistant turn is a prefix of the training text
            assert tok.decode(encoded["input_ids"]).startswith(chat.render_prompt(example["messages"][:i],
                                                                                 example["tools"]))


def test_truncation_keeps_lengths_and_drops_examples_without_targets() -> None:
    tok = tiny_tokenizer()
    example = tool_example()
    short = encode_chat(tok, example["messages"], example["tools"], max_length=30)
    assert len(short["input_ids"]) == 30 and all(lab == IGNORE_INDEX for lab in short["labels"])
    with pytest.raises(SFTDataError, match="max_length=30"):
        encode_examples(tok, [example], max_length=30)
    assert len(encode_examples(tok, [example, example], max_length=2048)) == 2


def test_collator_pads_right() -> None:
    batch = PaddingCollator(pad_token_id=0)([
        {"input_ids": [5, 6, 7], "labels": [-100, 6, 7], "attention_mask": [1, 1, 1]},
        {"input_ids": [8], "labels": [8], "attention_mask": [1]},
    ])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["labels"].tolist() == [[-100, 6, 7], [8, -100, -100]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]


def test_load_sft_jsonl_validates_with_line_numbers(tmp_path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(tool_example()) + "\n\n" + json.dumps(tool_example("rome")) + "\n")
    assert len(load_sft_jsonl(good)) == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(tool_example()) + "\n" + json.dumps({"messages": [{"role": "user", "content": "x"}]}))
    with pytest.raises(SFTDataError, match=r"bad.jsonl:2.*assistant"):
        load_sft_jsonl(bad)
    bad.write_text('{"messages": [{"role": "robot", "content": "x"}]}\n')
    with pytest.raises(SFTDataError, match=r"messages\[0\].role"):
        load_sft_jsonl(bad)
    bad.write_text("{not json\n")
    with pytest.raises(SFTDataError, match="not valid JSON"):
        load_sft_jsonl(bad)


def test_binary_garbage_is_a_usage_error_naming_the_file_and_line(tmp_path) -> None:
    garbage = tmp_path / "garbage.jsonl"
    garbage.write_bytes(json.dumps(tool_example()).encode() + b"\n\x89PNG\r\n\x1a\n\xff\xfe\x00\x01")
    with pytest.raises(SFTDataError, match=r"garbage.jsonl:2: not UTF-8") as caught:
        load_sft_jsonl(garbage)
    assert isinstance(caught.value, UsageError) and caught.value.exit_code == 2
    with pytest.raises(SFTDataError, match="cannot be read"):
        load_sft_jsonl(tmp_path)  # a directory


@pytest.mark.parametrize(("change", "field"), [
    ({"tools": [1]}, r"tools\[0\]"),
    ({"tools": [{"type": "function", "function": {"description": "no name"}}]}, r"tools\[0\]"),
    ({"tools": {"name": "x"}}, "'tools' must be a list"),
    ({"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "x"}]},
     r"messages\[0\].content"),
    ({"messages": [{"role": "assistant", "content": None, "tool_calls": 7}]}, r"messages\[0\].tool_calls must"),
    ({"messages": [{"role": "assistant", "tool_calls": [{"id": [1], "function": {"name": "f"}}]}]},
     r"tool_calls\[0\].id"),
    ({"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": [1]}}]}]},
     r"tool_calls\[0\].function.arguments"),
    ({"messages": [{"role": "assistant", "content": "x"}, {"role": "tool", "tool_call_id": ["c1"], "content": ""}]},
     r"messages\[1\].tool_call_id"),
])
def test_wrong_types_are_refused_before_rendering(tmp_path, change: dict, field: str) -> None:
    path = tmp_path / "wrong.jsonl"
    path.write_text(json.dumps({**tool_example(), **change}) + "\n")
    with pytest.raises(SFTDataError, match=f"wrong.jsonl:1: .*{field}"):
        load_sft_jsonl(path)


def test_cut_after_tool_calls_keeps_the_prefix_through_the_nth_call() -> None:
    from tooltune.train.data import cut_after_tool_calls

    example = tool_example()
    cut = cut_after_tool_calls(example, 1)
    assert [m["role"] for m in cut["messages"]] == ["system", "user", "assistant"]
    assert cut["messages"][-1]["tool_calls"] and cut["tools"] == example["tools"]
    assert cut_after_tool_calls(example, 2) is None
    assert len(example["messages"]) == 5  # the original is untouched
