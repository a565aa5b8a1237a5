"""Every metric of a whole corpus, read once in chunks (a report, an export): the texts and
their embeddings go in as they stream by; nothing but the running state is kept."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from workers.critics.text import words
from workers.metrics import coverage, lexical, semantic


class Summary:
    """Exact distinct-n over everything added (a set of n-gram hashes: it grows with the
    vocabulary, not with the rows), MATTR, compression, bigram entropy, Vendi and mean
    cosine distance, and, given real-data clusters, coverage of them."""

    def __init__(self, dim: int, centroids: np.ndarray | None = None, real_counts: np.ndarray | None = None):
        self.n = 0
        self.moments = semantic.Moments(dim=dim)
        self._grams: dict[int, set[int]] = {1: set(), 2: set(), 3: set()}
        self._totals: Counter[int] = Counter()
        self._bigrams: Counter[int] = Counter()
        self._mattr = [0.0, 0]
        self._compressor = lexical.Compressor()
        self.centroids, self.real_counts = centroids, real_counts
        self._hist = np.zeros(len(centroids), dtype=np.int64) if centroids is not None else None

    def add(self, texts: Sequence[str], vectors: np.ndarray) -> Summary:
        if len(texts) != len(vectors):
            raise ValueError(f"{len(texts)} texts but {len(vectors)} vectors")
        for text in texts:
            tokens = words(text)
            for n, seen in self._grams.items():
                grams = [hash(g) for g in lexical.ngrams(tokens, n)]
                self._totals[n] += len(grams)
                seen.update(grams)
                if n == lexical.ENTROPY_N:
                    self._bigrams.update(grams)
            m = lexical.mattr(tokens)
            if m is not None:
                self._mattr[0] += m
                self._mattr[1] += 1
        self._compressor.add(texts)
        if len(vectors):
            self.moments.add(vectors)
            if self._hist is not None:
                self._hist += coverage.histogram(vectors, self.centroids)
        self.n += len(texts)
        return self

    def result(self) -> dict[str, float | int]:
        out: dict[str, float | int] = {"n": self.n}
        for n, seen in self._grams.items():
            out[f"distinct_{n}"] = len(seen) / self._totals[n] if self._totals[n] else 0.0
        out["mattr"] = self._mattr[0] / self._mattr[1] if self._mattr[1] else 0.0
        raw, packed = self._compressor.sizes()
        out["compression_ratio"] = raw / packed if packed else 0.0
        out["ngram_entropy"] = lexical.entropy(self._bigrams)
        out["vendi"] = self.moments.vendi()
        out["mean_distance"] = self.moments.mean_distance()
        if self._hist is not None and self.real_counts is not None:
            cov = coverage.compare(self.real_counts, self._hist)
            out.update(coverage=cov.covered, tail_coverage=cov.tail_coverage, jsd=cov.jsd)
        return out

    @property
    def histogram(self) -> np.ndarray | None:
        return self._hist
