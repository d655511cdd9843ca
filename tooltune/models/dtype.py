"""Which floating-point type to run a local model in: `auto` picks bfloat16 where the hardware computes it
natively (a GPU with bf16 support, or a CPU with AVX512-BF16 / AMX), float32 otherwise.

Detected, not assumed: on a CPU without bf16 instructions bfloat16 is emulated and slower than float32.
"""

from __future__ import annotations

import platform
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import torch

DTypeName = Literal["auto", "float32", "bfloat16"]
DTYPE_NAMES: tuple[str, ...] = ("auto", "float32", "bfloat16")
DTYPE_HELP = "auto (bf16 where the CPU has AVX512-BF16/AMX or on a bf16 GPU, else fp32) | float32 | bfloat16"
CPU_BF16_FLAGS = ("avx512_bf16", "amx_bf16")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The CPU feature flags the kernel reports (Linux `/proc/cpuinfo`); empty where unknown."""
    if cpuinfo is None:
        path = Path("/proc/cpuinfo")
        if platform.system() != "Linux" or not path.is_file():
            return set()
        cpuinfo = path.read_text(errors="replace")
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
    return flags


@lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX-BF16)."""
    return bool(cpu_flags() & set(CPU_BF16_FLAGS))


def auto_dtype_name(device: str = "cpu") -> str:
    """`bfloat16` on a bf16-capable GPU or CPU, `float32` otherwise."""
    import torch

    if device.startswith("cuda"):
        return "bfloat16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "float32"
    return "bfloat16" if cpu_has_native_bf16() else "float32"


def resolve_dtype(name: str | None, device: str = "cpu") -> torch.dtype:
    """The torch dtype for an option value (`auto`, `float32`, `bfloat16`; None means auto)."""
    import torch

    name = (name or "auto").strip().lower()
    aliases = {"fp32": "float32", "bf16": "bfloat16"}
    name = aliases.get(name, name)
    if name not in DTYPE_NAMES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_NAMES)}, got {name!r}")
    if name == "auto":
        name = auto_dtype_name(device)
    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]
