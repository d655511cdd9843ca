"""Tiny in-memory models and a word-level tokenizer with a ChatML template, for fast training tests."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIALS = ["<pad>", "<unk>", "<|im_start|>", "<|im_end|>"]
WORDS = ("system user assistant tool tools call calls response name arguments function functions type object "
         "parameters description properties string integer you may one or more to assist with the query are "
         "provided signatures within xml tags for each return a json and play music set volume get weather city "
         "hello hi ok done what is in paris berlin rome please light lights on off room kitchen level jazz rock "
         "genre the of it args <function-name> <args-json-object> # Tools assistant helpful You For XML required "
         "get_weather tool_call tool_response set_volume play_music <tools> weather can below Their descriptions JSON "
         "Schema inside To answer block per nothing else Each result comes back When no needed plain text as").split()


def tiny_tokenizer(extra_words: list[str] | None = None) -> PreTrainedTokenizerFast:
    """Word-level tokenizer over a small vocabulary; punctuation, digits and whitespace runs are single tokens."""
    vocab: dict[str, int] = {}
    for token in SPECIALS + WORDS + list(extra_words or []) + list("0123456789{}[]\":,.<>/_-?!'=#()*+") + \
            ["\n", " ", "  ", "\n\n"]:
        vocab.setdefault(token, len(vocab))
    model = models.WordLevel(vocab=vocab, unk_token="<unk>")
    tok = Tokenizer(model)
    tok.pre_tokenizer = pre_tokenizers.Split(Regex(r"<[a-z-]+>|\w+|[^\w\s]|\s+"), behavior="isolated")
    tok.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>",
                                   eos_token="<|im_end|>", bos_token=None)
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>", "<|im_end|>"]})
    fast.chat_template = CHATML
    return fast


def tiny_llama(vocab_size: int = 256, seed: int = 0) -> LlamaForCausalLM:
    """2-layer Llama, hidden 32: every linear named like the real family (q_proj ... down_proj)."""
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         tie_word_embeddings=True)
    return LlamaForCausalLM(config).eval()


def tiny_checkpoint(path: Path, max_position_embeddings: int = 4096) -> Path:
    """A 2-layer Llama (hidden 32, eos and pad ids of `tiny_tokenizer`) and that tokenizer saved at `path` as a
    Hugging Face checkpoint directory, for code that loads a model by path; returns `path`."""
    tokenizer = tiny_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=max_position_embeddings, tie_word_embeddings=True,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def tiny_qwen2(vocab_size: int = 256, seed: int = 0) -> Qwen2ForCausalLM:
    """2-layer Qwen2 (q/k/v with bias), hidden 32."""
    torch.manual_seed(seed)
    config = Qwen2Config(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512)
    return Qwen2ForCausalLM(config).eval()


def weather_tool() -> dict:
    return {"type": "function", "function": {"name": "get_weather", "description": "get weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def tool_example(city: str = "paris") -> dict:
    """A short conversation: the user asks, the assistant calls get_weather, reads the result, answers."""
    call = {"id": "c1", "type": "function",
            "function": {"name": "get_weather", "arguments": json.dumps({"city": city})}}
    return {"messages": [
        {"role": "system", "content": "you are a helpful assistant"},
        {"role": "user", "content": f"what is the weather in {city}"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "{\"weather\": \"ok\"}"},
        {"role": "assistant", "content": f"the weather in {city} is ok"},
    ], "tools": [weather_tool()]}
