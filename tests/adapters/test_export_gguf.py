"""A merged export of a LoRA on the real SmolLM2 converts to GGUF with llama.cpp's converter, and llama.cpp
(llama-cpp-python) computes the logits transformers computes from the merged checkpoint.

Slow, and skipped unless LLAMA_CPP_CONVERT names llama.cpp's `convert_hf_to_gguf.py` (it is not on PyPI; it
ships in llama.cpp's sources, e.g. the llama-cpp-python sdist's vendor/llama.cpp/, and needs `sentencepiece`
importable, via PYTHONPATH if need be).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow
CONVERTER = os.environ.get("LLAMA_CPP_CONVERT", "")
# llama.cpp's float32 kernels accumulate in another order than torch's: last-position logits agree to ~6e-3
# here, while the adapter itself moves them by ~0.4
TOLERANCE = 2e-2


def _last_logits(path: Path, ids: list[int]) -> np.ndarray:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0, -1].numpy()


@pytest.mark.skipif(not Path(CONVERTER).is_file(), reason="set LLAMA_CPP_CONVERT to llama.cpp's convert_hf_to_gguf.py")
def test_merged_export_converts_to_gguf_with_the_same_logits(tmp_path: Path) -> None:
    from llama_cpp import Llama

    from tooltune.adapters import LoRAConfig, adapter_parameters, inject_adapters, save_adapter
    from tooltune.export import export_merged
    from tooltune.models.registry import load_trainable

    model, tokenizer = load_trainable("smollm2")
    inject_adapters(model, LoRAConfig(target_modules=["q_proj", "v_proj", "down_proj"], r=4, alpha=8), seed=0)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, param in adapter_parameters(model).items():
            if "lora_B" in name:
                param.copy_(0.02 * torch.randn(param.shape, generator=generator))
    merged = export_merged(save_adapter(model, tmp_path / "adapter"), tmp_path / "merged")
    gguf = tmp_path / "model.gguf"
    subprocess.run([sys.executable, CONVERTER, str(merged), "--outfile", str(gguf), "--outtype", "f32"], check=True)

    ids = tokenizer.apply_chat_template([{"role": "user", "content": "Play some music I like."}],
                                        add_generation_prompt=True, return_dict=True)["input_ids"]
    expected = _last_logits(merged, ids)
    llama = Llama(str(gguf), n_ctx=256, n_threads=2, logits_all=True, verbose=False)
    llama.eval(ids)
    served = np.array(llama.scores[len(ids) - 1])
    assert np.abs(served - expected).max() < TOLERANCE
    assert np.abs(expected - _last_logits(Path(model.config._name_or_path), ids)).max() > 10 * TOLERANCE
