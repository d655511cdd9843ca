"""HFChatModel on tiny in-memory Llama and Qwen2 models: templates, tools, batching, adapters."""

from __future__ import annotations

import pytest
import torch

from tooltune.models.base import ModelError
from tooltune.models.hf_local import HFChatModel, template_renders_tools
from tooltune.models.registry import load_model
from tooltune.models.types import ChatRequest, GenerationConfig

from .conftest import make_tokenizer

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
SHORT = GenerationConfig(max_new_tokens=12)
CONVERSATIONS = [
    [{"role": "user", "content": "hi"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of France, please?"}],
    [{"role": "user", "content": "é 中 🎵"}],
]


def test_template_tool_support_is_detected(plain_tokenizer, tools_tokenizer):
    assert template_renders_tools(tools_tokenizer) is True
    assert template_renders_tools(plain_tokenizer) is False


def test_plain_template_gets_the_text_protocol(llama_model, plain_tokenizer):
    model = HFChatModel(llama_model, plain_tokenizer)
    assert model.native_tools is False
    prompt = model.render_prompt([{"role": "user", "content": "weather?"}], [WEATHER])
    assert "<tool_call>" in prompt and "get_weather" in prompt
    assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")


def test_native_template_renders_tools_and_earlier_calls(qwen_model, tools_tokenizer):
    model = HFChatModel(qwen_model, tools_tokenizer)
    assert model.native_tools is True
    history = [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    ]
    prompt = model.render_prompt(history, [WEATHER])
    assert "<tools>" in prompt and '"name": "get_weather"' in prompt
    assert '"arguments": {"city": "Oslo"}' in prompt  # arguments handed to the template as a dict
    assert "<|im_start|>tool\nsunny" in prompt


def test_text_protocol_can_be_forced(qwen_model, tools_tokenizer):
    model = HFChatModel(qwen_model, tools_tokenizer, tool_mode="text")
    prompt = model.render_prompt([{"role": "user", "content": "x"}], [WEATHER])
    assert "<tools>\n{" in prompt and "answer with one block per call" in prompt


@pytest.mark.parametrize("fixture", ["llama_model", "qwen_model"])
def test_chat_batch_equals_sequential_greedy_chat(fixture, request, plain_tokenizer, tools_tokenizer):
    tokenizer = plain_tokenizer if fixture == "llama_model" else tools_tokenizer
    model = HFChatModel(request.getfixturevalue(fixture), tokenizer)
    requests = [ChatRequest(c, [WEATHER] if i == 1 else None) for i, c in enumerate(CONVERSATIONS)]
    batched = model.chat_batch(requests, SHORT)
    one_by_one = [model.chat(r.messages, r.tools, SHORT) for r in requests]
    assert [a.raw_text for a in batched] == [a.raw_text for a in one_by_one]
    assert [a.usage for a in batched] == [a.usage for a in one_by_one]
    assert len({a.usage.prompt_tokens for a in batched}) == 3  # really different lengths, so padding was used
    assert all(0 < a.usage.completion_tokens <= 12 for a in batched)
    assert model.supports_batching


def test_sampling_is_reproducible_with_a_seed_and_differs_from_greedy(llama_model, plain_tokenizer):
    model = HFChatModel(llama_model, plain_tokenizer)
    hot = GenerationConfig(max_new_tokens=16, temperature=1.5, seed=7)
    first = model.chat(CONVERSATIONS[0], config=hot).raw_text
    assert model.chat(CONVERSATIONS[0], config=hot).raw_text == first
    others = {model.chat(CONVERSATIONS[0], config=GenerationConfig(max_new_tokens=16, temperature=1.5, seed=s)).raw_text for s in range(4)}
    assert len(others) > 1


def _scripted_generate(model, tokenizer, text: str):
    """Make generate() append the tokens of `text` then eos, so the decoding + parsing path is exercised."""
    continuation = tokenizer(text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]

    def generate(input_ids, attention_mask=None, **kwargs):
        tail = torch.tensor([continuation] * input_ids.shape[0])
        return torch.cat([input_ids, tail], dim=1)

    model.generate = generate


def test_tool_calls_are_parsed_from_generated_text(plain_tokenizer):
    from .conftest import make_model

    base = make_model("llama", len(plain_tokenizer))
    text = 'Let me look.<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>'
    _scripted_generate(base, plain_tokenizer, text)
    answer = HFChatModel(base, plain_tokenizer).chat([{"role": "user", "content": "weather?"}], [WEATHER])
    assert answer.content == "Let me look."
    assert [(c.name, c.arguments) for c in answer.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert answer.parse_errors == []


def test_malformed_generated_calls_become_parse_errors(plain_tokenizer):
    from .conftest import make_model

    base = make_model("llama", len(plain_tokenizer))
    _scripted_generate(base, plain_tokenizer, '<tool_call>{"name": "launch_rocket", "arguments": {}}</tool_call><|im_start|>')
    answer = HFChatModel(base, plain_tokenizer).chat([{"role": "user", "content": "go"}], [WEATHER])
    assert answer.tool_calls == []
    assert "unknown tool 'launch_rocket'" in answer.parse_errors[0]
    assert "<|im_start|>" not in (answer.raw_text or "")


def test_stop_strings_cut_the_answer(plain_tokenizer):
    from .conftest import make_model

    base = make_model("llama", len(plain_tokenizer))
    _scripted_generate(base, plain_tokenizer, "Thought: think\nObservation: invented")
    answer = HFChatModel(base, plain_tokenizer).chat(CONVERSATIONS[0], config=GenerationConfig(stop=["Observation:"]))
    assert answer.content == "Thought: think"


def test_tokenizer_without_chat_template_is_refused(llama_model):
    with pytest.raises(ModelError, match="chat_template"):
        HFChatModel(llama_model, make_tokenizer(None))


def test_load_model_from_a_checkpoint_directory(tmp_path, llama_model, plain_tokenizer):
    llama_model.save_pretrained(tmp_path)
    plain_tokenizer.save_pretrained(tmp_path)
    loaded = load_model(str(tmp_path))
    assert isinstance(loaded, HFChatModel) and loaded.load_seconds >= 0
    original = HFChatModel(llama_model, plain_tokenizer)
    assert loaded.chat(CONVERSATIONS[1], config=SHORT).raw_text == original.chat(CONVERSATIONS[1], config=SHORT).raw_text


def test_adapter_only_directory_gets_a_hint(tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(ModelError, match="adapter"):
        HFChatModel.from_pretrained(tmp_path)


def test_adapters_attach_through_tooltune_adapters_io(tmp_path, plain_tokenizer):
    from tooltune.adapters.io import save_adapter
    from tooltune.adapters.lora import LoRAConfig
    from tooltune.adapters.model import inject_adapters

    from .conftest import make_model

    vocab = len(plain_tokenizer)
    trained = make_model("llama", vocab)
    inject_adapters(trained, LoRAConfig(target_modules=["q_proj", "v_proj", "down_proj"], r=4, alpha=8.0))
    with torch.no_grad():
        for name, parameter in trained.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, 0.5)  # a trained-looking, non-zero update
    save_adapter(trained, tmp_path)

    plain = HFChatModel(make_model("llama", vocab), plain_tokenizer)
    adapted = HFChatModel(make_model("llama", vocab), plain_tokenizer, adapter=tmp_path)
    in_memory = HFChatModel(trained, plain_tokenizer)
    conversation = CONVERSATIONS[1]
    assert adapted.chat(conversation, config=SHORT).raw_text == in_memory.chat(conversation, config=SHORT).raw_text
    ids = torch.tensor([[5, 6, 7, 8]])
    assert not torch.allclose(adapted.model(ids).logits, plain.model(ids).logits)
    assert load_model(str(_saved(tmp_path / "base", plain, plain_tokenizer)), adapter=tmp_path).chat(
        conversation, config=SHORT
    ).raw_text == in_memory.chat(conversation, config=SHORT).raw_text


def _saved(directory, chat_model, tokenizer):
    chat_model.model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_a_broken_adapter_is_a_model_error(tmp_path, plain_tokenizer):
    from .conftest import make_model

    (tmp_path / "adapter_config.json").write_text('{"adapter_type": "lora", "target_modules": ["no_such_module"]}')
    with pytest.raises(ModelError, match="could not attach"):
        HFChatModel(make_model("llama", len(plain_tokenizer)), plain_tokenizer, adapter=tmp_path)


def test_adapter_directory_without_config_is_refused(tmp_path, llama_model, plain_tokenizer):
    with pytest.raises(ModelError, match="adapter_config.json"):
        HFChatModel(llama_model, plain_tokenizer, adapter=tmp_path)


def test_generation_leaves_a_training_model_in_training_mode(plain_tokenizer):
    from .conftest import make_model

    base = make_model("llama", len(plain_tokenizer)).train()
    HFChatModel(base, plain_tokenizer).chat(CONVERSATIONS[0], config=GenerationConfig(max_new_tokens=2))
    assert base.training


def test_stop_strings_with_a_word_level_tokenizer_are_applied_after_generation():
    """transformers' StopStringCriteria refuses word-level vocabularies; generation must still work."""
    from tests.train.tiny import tiny_llama, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    model = HFChatModel(tiny_llama(vocab_size=len(tokenizer)), tokenizer)
    stops = ["\nObservation:"]
    answer = model.chat(CONVERSATIONS[0], config=GenerationConfig(max_new_tokens=6, stop=stops))
    assert model._stop_support[tuple(stops)] is False
    assert "Observation:" not in (answer.raw_text or "")
