"""How to talk to a model: one ChatModel interface over embedded, local and HTTP backends.

Names are imported lazily so that `import tooltune.models` stays cheap (no httpx/torch until used).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ChatModel": "tooltune.models.base",
    "ModelError": "tooltune.models.base",
    "AssistantMessage": "tooltune.models.types",
    "ChatRequest": "tooltune.models.types",
    "GenerationConfig": "tooltune.models.types",
    "ToolCall": "tooltune.models.types",
    "ToolConstraint": "tooltune.models.types",
    "parse_tool_calls": "tooltune.models.toolcall_parser",
    "HFChatModel": "tooltune.models.hf_local",
    "OpenAIChatModel": "tooltune.models.openai_http",
    "load_embedded_model": "tooltune.models.embedded",
    "load_model": "tooltune.models.registry",
    "available_models": "tooltune.models.registry",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'tooltune.models' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
