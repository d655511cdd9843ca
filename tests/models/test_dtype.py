"""dtype choice: `auto` follows what the CPU reports, names are validated, loaders honour the choice."""

from __future__ import annotations

import pytest
import torch

from tooltune.models import dtype as dtypes

AMX_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 amx_tile amx_bf16\n"
OLD_CPU = "processor\t: 0\nflags\t\t: fpu sse2 avx2\n"
ARM_CPU = "processor\t: 0\nFeatures\t: fp asimd bf16\n"


def test_cpu_flags_parse_linux_cpuinfo() -> None:
    assert {"avx512_bf16", "amx_bf16"} <= dtypes.cpu_flags(AMX_CPU)
    assert "avx512_bf16" not in dtypes.cpu_flags(OLD_CPU)
    assert "bf16" in dtypes.cpu_flags(ARM_CPU)


@pytest.mark.parametrize("cpuinfo, expected", [(AMX_CPU, torch.bfloat16), (OLD_CPU, torch.float32)])
def test_auto_picks_bf16_only_where_the_cpu_has_it(monkeypatch, cpuinfo, expected) -> None:
    monkeypatch.setattr(dtypes, "cpu_has_native_bf16", lambda: bool(dtypes.cpu_flags(cpuinfo) & set(dtypes.CPU_BF16_FLAGS)))
    assert dtypes.resolve_dtype("auto") is expected
    assert dtypes.resolve_dtype(None) is expected


def test_explicit_names_and_aliases() -> None:
    assert dtypes.resolve_dtype("float32") is torch.float32
    assert dtypes.resolve_dtype("bf16") is torch.bfloat16
    assert dtypes.resolve_dtype("FP32") is torch.float32
    with pytest.raises(ValueError, match="dtype must be one of auto, float32, bfloat16, got 'float16'"):
        dtypes.resolve_dtype("float16")


def test_checkpoint_loads_in_the_asked_dtype(tmp_path, plain_tokenizer, llama_model) -> None:
    from tooltune.models.hf_local import HFChatModel

    llama_model.save_pretrained(tmp_path)
    plain_tokenizer.save_pretrained(tmp_path)
    for name, expected in (("bfloat16", torch.bfloat16), ("float32", torch.float32)):
        chat = HFChatModel.from_pretrained(tmp_path, dtype=name)
        assert next(chat.model.parameters()).dtype is expected
        assert chat.chat([{"role": "user", "content": "hi"}]).usage.completion_tokens > 0


def test_run_config_rejects_an_unknown_dtype() -> None:
    from tooltune.bench.config import RunConfig, RunConfigError

    with pytest.raises(RunConfigError, match="dtype"):
        RunConfig(model="smollm2", dtype="half")
