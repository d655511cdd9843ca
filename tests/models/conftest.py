"""Tiny in-memory models and a byte-level tokenizer with chat templates: no downloads, fast."""

from __future__ import annotations

import pytest

SPECIALS = ["<unk>", "<|im_start|>", "<|im_end|>", "<pad>"]

# ChatML without tool support (like SmolLM2's): tools passed to it are silently dropped.
PLAIN_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
# ChatML that renders tools natively (like Qwen2.5's), including earlier tool calls.
TOOLS_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools><|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
    "{% for c in m.get('tool_calls', []) %}<tool_call>{{ {'name': c.function.name, 'arguments': c.function.arguments} | tojson }}</tool_call>{% endfor %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def make_tokenizer(template: str | None = PLAIN_TEMPLATE):
    """A lossless byte-level tokenizer (one token per byte, no merges) with ChatML special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {token: i for i, token in enumerate(SPECIALS)}
    vocab.update({char: len(SPECIALS) + i for i, char in enumerate(alphabet)})
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    backend.add_special_tokens(SPECIALS)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<pad>"
    )
    tokenizer.chat_template = template
    return tokenizer


def make_model(family: str, vocab_size: int, seed: int = 0):
    """A 2-layer, hidden-64 causal LM with random weights."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    common = dict(
        vocab_size=vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        eos_token_id=2, pad_token_id=3, bos_token_id=1,
    )
    if family == "llama":
        return LlamaForCausalLM(LlamaConfig(**common)).eval()
    return Qwen2ForCausalLM(Qwen2Config(**common)).eval()


@pytest.fixture(scope="session")
def plain_tokenizer():
    return make_tokenizer(PLAIN_TEMPLATE)


@pytest.fixture(scope="session")
def tools_tokenizer():
    return make_tokenizer(TOOLS_TEMPLATE)


@pytest.fixture(scope="session")
def llama_model(plain_tokenizer):
    return make_model("llama", len(plain_tokenizer))


@pytest.fixture(scope="session")
def qwen_model(tools_tokenizer):
    return make_model("qwen2", len(tools_tokenizer), seed=1)
