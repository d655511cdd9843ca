"""One entry point from a model spec string to a ChatModel, and what `tooltune models` lists.

Specs: `smollm2` (the embedded default), a local checkpoint directory `PATH`, or `openai:URL#MODEL`
(`openai:#MODEL` uses $OPENAI_BASE_URL, else the OpenAI API). Adapters attach with `adapter=DIR`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tooltune.errors import UsageError
from tooltune.models.base import ChatModel, ModelError
from tooltune.models.embedded import EMBEDDED_NAME, INSTALL_HINT, embedded_cache_dir, find_gguf, is_cached

OPENAI_PREFIX = "openai:"
DEFAULT_OPENAI_URL = "https://api.openai.com/v1"
SPEC_HELP = "smollm2 | PATH (a Hugging Face checkpoint directory) | openai:URL#MODEL"


@dataclass
class ModelInfo:
    """One line of `tooltune models`."""

    spec: str
    kind: str
    available: bool
    location: str
    note: str = ""


def load_model(spec: str, *, adapter: str | Path | None = None, dtype: str | None = None, **options: Any) -> ChatModel:
    """Build the backend a spec names; `options` go to the backend (e.g. timeout=, native_tools=).

    `dtype` (auto | float32 | bfloat16) applies to local models; None means auto. A server picks its own."""
    start = time.perf_counter()
    spec = spec.strip()
    if spec.lower() == EMBEDDED_NAME:
        from tooltune.models.embedded import load_embedded_chat_model

        model: ChatModel = load_embedded_chat_model(adapter=adapter, dtype=dtype or "auto", **options)
    elif spec.startswith(OPENAI_PREFIX):
        if adapter is not None:
            raise ModelError("adapters attach only to local models, not to an OpenAI-compatible server")
        from tooltune.models.openai_http import OpenAIChatModel

        base_url, model_name = parse_openai_spec(spec)
        model = OpenAIChatModel(base_url, model_name, **options)
    elif Path(spec).expanduser().is_dir():
        from tooltune.models.hf_local import HFChatModel

        model = HFChatModel.from_pretrained(Path(spec).expanduser(), adapter=adapter, dtype=dtype or "auto", **options)
    else:
        raise ModelError(f"unknown model {spec!r}: expected {SPEC_HELP} (no such directory: {spec})")
    model.load_seconds = time.perf_counter() - start  # type: ignore[attr-defined]
    return model


TrainableLoader = Callable[[], tuple[Any, Any]]
"""Returns a fresh (model, tokenizer) to train each time it is called."""


class NotTrainable(UsageError):
    """The spec names a model without local weights (a server), which cannot be trained."""


def load_trainable(spec: str, dtype: str = "float32") -> tuple[Any, Any]:
    """A fresh (model, tokenizer) to train, from a local spec (smollm2 or a checkpoint directory); training
    keeps fp32 master weights by default."""
    chat = load_model(spec, dtype=dtype)
    if not hasattr(chat, "tokenizer"):
        raise NotTrainable(f"--model: {spec!r} is not a local model; training needs weights")
    return chat.model, chat.tokenizer  # type: ignore[attr-defined]


def parse_openai_spec(spec: str) -> tuple[str, str]:
    """`openai:URL#MODEL` -> (URL, MODEL); an empty URL means $OPENAI_BASE_URL or the OpenAI API."""
    body = spec[len(OPENAI_PREFIX) :]
    base_url, separator, model_name = body.rpartition("#")
    if not separator or not model_name:
        raise ModelError(f"model spec {spec!r}: expected openai:URL#MODEL, e.g. openai:http://127.0.0.1:8000/v1#qwen")
    base_url = base_url or os.environ.get("OPENAI_BASE_URL", DEFAULT_OPENAI_URL)
    if not base_url.startswith(("http://", "https://")):
        raise ModelError(f"model spec {spec!r}: the URL must start with http:// or https://")
    return base_url, model_name


def available_models() -> list[ModelInfo]:
    """What can be loaded here and where it is cached; never loads a model."""
    cache = embedded_cache_dir()
    try:
        gguf = find_gguf()
        embedded = ModelInfo(
            EMBEDDED_NAME,
            "embedded SmolLM2-135M-Instruct",
            True,
            str(cache),
            "cached (fast load)" if is_cached() else f"not cached yet: first load converts {gguf.name} (~20 s)",
        )
    except ModelError:
        embedded = ModelInfo(EMBEDDED_NAME, "embedded SmolLM2-135M-Instruct", False, str(cache), f"missing: {INSTALL_HINT}")
    key_note = "OPENAI_API_KEY is set" if os.environ.get("OPENAI_API_KEY") else "OPENAI_API_KEY not set (fine for local servers)"
    return [
        embedded,
        ModelInfo("PATH", "local Hugging Face checkpoint with a chat template", True, "(any directory)", "adapters: --adapter DIR"),
        ModelInfo(
            "openai:URL#MODEL",
            "OpenAI-compatible chat-completions server",
            True,
            os.environ.get("OPENAI_BASE_URL", DEFAULT_OPENAI_URL),
            key_note,
        ),
    ]
