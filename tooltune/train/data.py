"""SFT data: read OpenAI-format chat examples with tools, render them with the model's own chat template,
and label only the assistant turns.

Rendering goes through the same path as inference (`tooltune.models.hf_local`): templates that cannot show
tools (SmolLM2's is plain ChatML) get tools, tool calls and results as text in the `<tool_call>` protocol of
`tooltune.models.text_protocol`, so the model is trained on exactly what it will be prompted with.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from tooltune.errors import UsageError
from tooltune.models.hf_local import template_messages, template_renders_tools
from tooltune.models.text_protocol import render_text_protocol

IGNORE_INDEX = -100
ROLES = ("system", "user", "assistant", "tool")

Example = dict[str, Any]
"""One SFT example: {"messages": [...OpenAI messages...], "tools": [...OpenAI tool schemas...]}."""
Formatter = Callable[[list[dict], list[dict] | None], list[dict]]


class SFTDataError(UsageError):
    """An SFT file or example is malformed; the message names the file, line and field."""


def _check_content(content: Any, where: str) -> None:
    """OpenAI content: text, null, or a list of parts (objects, text parts with a string `text`)."""
    if content is None or isinstance(content, str):
        return
    if isinstance(content, list) and all(isinstance(p, dict) and isinstance(p.get("text", ""), str) for p in content):
        return
    raise SFTDataError(f"{where}.content must be a string, null or a list of text parts, got {type(content).__name__}")


def _check_tool_calls(calls: Any, where: str) -> None:
    if calls is None:
        return
    if not isinstance(calls, list):
        raise SFTDataError(f"{where}.tool_calls must be a list, got {type(calls).__name__}")
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise SFTDataError(f"{where}.tool_calls[{j}].function.name is missing")
        if not isinstance(call.get("id", ""), str):
            raise SFTDataError(f"{where}.tool_calls[{j}].id must be a string")
        if not isinstance(function.get("arguments"), (str, dict, type(None))):
            raise SFTDataError(f"{where}.tool_calls[{j}].function.arguments must be a JSON string or an object")


def _check_tools(tools: Any, where: str) -> None:
    if not isinstance(tools, list):
        raise SFTDataError(f"{where}: field 'tools' must be a list")
    for k, tool in enumerate(tools):
        function = tool.get("function", tool) if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
            raise SFTDataError(f"{where}: tools[{k}] must be an object with function.name")


def validate_example(example: Any, where: str = "example") -> Example:
    """Check the shape of one example and return it with `tools` defaulted to []."""
    if not isinstance(example, dict):
        raise SFTDataError(f"{where}: expected a JSON object, got {type(example).__name__}")
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        raise SFTDataError(f"{where}: field 'messages' must be a non-empty list")
    tools = example.get("tools")
    tools = [] if tools is None else tools
    _check_tools(tools, where)
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in ROLES:
            raise SFTDataError(f"{where}: messages[{i}].role must be one of {ROLES}")
        _check_content(message.get("content"), f"{where}: messages[{i}]")
        _check_tool_calls(message.get("tool_calls"), f"{where}: messages[{i}]")
        for key in ("name", "tool_call_id"):
            if not isinstance(message.get(key, ""), str):
                raise SFTDataError(f"{where}: messages[{i}].{key} must be a string")
    if not any(m["role"] == "assistant" for m in messages):
        raise SFTDataError(f"{where}: field 'messages' has no assistant turn to learn from")
    return {**example, "messages": messages, "tools": tools}


def load_sft_jsonl(path: str | Path) -> list[Example]:
    """Read a JSONL file of {"messages", "tools"} examples, validating each line."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SFTDataError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})") from exc
    examples: list[Example] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SFTDataError(f"{path}:{number}: not UTF-8 text (byte {exc.start}); expected JSON lines") from exc
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            raise SFTDataError(f"{path}:{number}: not valid JSON ({reason})") from exc
        examples.append(validate_example(record, f"{path}:{number}"))
    if not examples:
        raise SFTDataError(f"{path}: no examples")
    return examples


def cut_after_tool_calls(example: Example, turns: int = 1) -> Example | None:
    """The conversation up to and including its `turns`-th tool-calling assistant turn (None if it has fewer):
    short training rows that teach exactly the calls a tool-call evaluation asks for."""
    seen = 0
    for i, message in enumerate(example["messages"]):
        if message["role"] == "assistant" and message.get("tool_calls"):
            seen += 1
            if seen == turns:
                return {**example, "messages": example["messages"][: i + 1]}
    return None


def split_examples(examples: Sequence[Example], test_size: int, seed: int = 0) -> tuple[list[Example], list[Example]]:
    """Deterministic (train, test) split holding out `test_size` examples."""
    if not 0 < test_size < len(examples):
        raise SFTDataError(f"test_size must be between 1 and {len(examples) - 1} for {len(examples)} examples, "
                             f"got {test_size}")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    test = [examples[i] for i in sorted(order[:test_size])]
    train = [examples[i] for i in sorted(order[test_size:])]
    return train, test


def up_to_first_call(example: Example) -> Example:
    """The conversation cut after its first assistant turn that calls tools (unchanged if there is none)."""
    return cut_after_tool_calls(example, 1) or example


def sample_examples(examples: Sequence[Example], count: int | None, seed: int = 0) -> list[Example]:
    """A seeded random subset of `count` examples in their original order (all of them when count is None)."""
    if count is None or count >= len(examples):
        return list(examples)
    keep = sorted(random.Random(seed).sample(range(len(examples)), count))
    return [examples[i] for i in keep]


def render_chat(tokenizer: Any, messages: list[dict], tools: list[dict] | None,
                add_generation_prompt: bool = False) -> str:
    """The chat template's text for `messages` (tools passed natively)."""
    return tokenizer.apply_chat_template(messages, tools=tools or None, tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def prepare_messages(tokenizer: Any, messages: list[dict], tools: list[dict] | None,
                     formatter: Formatter | None = None) -> tuple[list[dict], list[dict] | None]:
    """Messages and tools as the template gets them, exactly as `HFChatModel` prompts at inference:
    native `tools=` when the template renders them, the `<tool_call>` text protocol otherwise."""
    if formatter is not None:
        return formatter(messages, tools), None
    if tools and template_renders_tools(tokenizer):
        return template_messages(messages), tools
    return render_text_protocol(messages, tools), None


def encode_chat(tokenizer: Any, messages: list[dict], tools: list[dict] | None = None, max_length: int = 512,
                formatter: Formatter | None = None) -> dict[str, list[int]]:
    """Token ids of the whole conversation, labels = ids on assistant turns and -100 elsewhere.

    Truncates on the right to `max_length`. Needs a fast tokenizer (character offsets) and a template whose
    rendering of a prefix of the conversation is a prefix of the whole rendering.
    """
    rendered, rendered_tools = prepare_messages(tokenizer, messages, tools, formatter)
    full = render_chat(tokenizer, rendered, rendered_tools)
    spans: list[tuple[int, int]] = []
    for i, message in enumerate(rendered):
        if message["role"] != "assistant":
            continue
        prefix = render_chat(tokenizer, rendered[:i], rendered_tools, add_generation_prompt=True)
        upto = render_chat(tokenizer, rendered[: i + 1], rendered_tools)
        if not (upto.startswith(prefix) and full.startswith(upto)):
            raise SFTDataError(f"the chat template does not render messages[{i}] as an extension of the earlier "
                               "turns, so assistant tokens cannot be located")
        spans.append((len(prefix), len(upto)))
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True,
                        truncation=True, max_length=max_length)
    ids = list(encoded["input_ids"])
    labels = [tok if any(a <= start < b for a, b in spans) else IGNORE_INDEX
              for tok, (start, _end) in zip(ids, encoded["offset_mapping"])]
    return {"input_ids": ids, "labels": labels, "attention_mask": [1] * len(ids)}


def encode_examples(tokenizer: Any, examples: Sequence[Example], max_length: int = 512,
                    formatter: Formatter | None = None) -> list[dict[str, list[int]]]:
    """Encode many examples; those whose assistant tokens were all truncated away are dropped."""
    encoded = []
    for example in examples:
        if "input_ids" in example:
            item = {k: list(example[k]) for k in ("input_ids", "labels", "attention_mask") if k in example}
            item.setdefault("attention_mask", [1] * len(item["input_ids"]))
        else:
            item = encode_chat(tokenizer, example["messages"], example.get("tools"), max_length, formatter)
        if any(label != IGNORE_INDEX for label in item["labels"]):
            encoded.append(item)
    if not encoded:
        raise SFTDataError(f"no example keeps an assistant token within max_length={max_length}")
    return encoded


class PaddingCollator:
    """Right-pads input_ids (pad id), labels (-100) and attention_mask (0) to the longest in the batch."""

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: list[dict[str, list[int]]]) -> dict[str, torch.Tensor]:
        length = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        pad_values = {"input_ids": self.pad_token_id, "labels": IGNORE_INDEX, "attention_mask": 0}
        batch = {}
        for key, pad in pad_values.items():
            rows = [list(f[key]) + [pad] * (length - len(f[key])) for f in features]
            batch[key] = torch.tensor(rows, dtype=torch.long)
        return batch


def pad_token_id(tokenizer: Any) -> int:
    """The tokenizer's pad id, falling back to EOS (many chat models define no pad token)."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise SFTDataError("tokenizer has neither pad_token_id nor eos_token_id to pad with")
    return int(pad)
