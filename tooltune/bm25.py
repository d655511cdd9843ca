"""Okapi BM25 (Robertson & Zaragoza 2009), the one lexical ranking both the sandbox's tool search and
internalization's few-shot retrieval use; callers bring their own tokenization."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence


class BM25Index:
    """Term statistics of a fixed list of tokenized documents; `scores` weighs a query against each of them.

    idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)) stays positive even for terms in most documents."""

    def __init__(self, documents: Sequence[Sequence[str]], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.tf = [Counter(tokens) for tokens in documents]
        self.lengths = [len(tokens) for tokens in documents]
        self.average_length = (sum(self.lengths) / len(self.lengths)) if self.lengths else 0.0
        df: Counter[str] = Counter()
        for tf in self.tf:
            df.update(tf.keys())
        n = len(self.tf)
        self.idf = {term: math.log(1.0 + (n - count + 0.5) / (count + 0.5)) for term, count in df.items()}

    def scores(self, query_terms: Iterable[str]) -> list[float]:
        """One score per document, in document order; a term counts once per time it appears in the query."""
        terms = list(query_terms)
        out = []
        for tf, length in zip(self.tf, self.lengths):
            norm = self.k1 * (1.0 - self.b + self.b * length / (self.average_length or 1.0))
            out.append(sum(self.idf[t] * tf[t] * (self.k1 + 1.0) / (tf[t] + norm) for t in terms if t in tf))
        return out
