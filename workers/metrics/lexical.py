"""Lexical diversity. Collapse shows first as fewer distinct n-grams across a corpus, a lower
type-token ratio, more compressible text and a flatter n-gram distribution."""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence

from workers.critics.text import words

MATTR_WINDOW = 50  # words; the usual window (Covington & McFall 2010)
ENTROPY_N = 2


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Corpus-level distinct-n: distinct n-grams over all n-grams of all texts
    (lower-cased words); 0 for an empty corpus."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        grams = ngrams(words(text), n)
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0


def mattr(tokens: Sequence[str], window: int = MATTR_WINDOW) -> float | None:
    """Moving-average type-token ratio of one text: the mean TTR of every window of `window`
    words, so a long text is not penalized for its length as plain TTR is. A text shorter
    than the window gets its plain TTR; an empty one has none."""
    n = len(tokens)
    if n == 0:
        return None
    if n <= window:
        return len(set(tokens)) / n
    counts = Counter(tokens[:window])
    total = len(counts)
    for i in range(window, n):  # slide: one word in, one out, O(n)
        out, new = tokens[i - window], tokens[i]
        counts[out] -= 1
        if not counts[out]:
            del counts[out]
        counts[new] += 1
        total += len(counts)
    return total / (n - window + 1) / window


class Compressor:
    """zlib (level 6, as gzip) over texts joined by newlines, streamed: the corpus is never
    held in memory, and the sizes are those of compressing it in one piece."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(6)
        self.raw = 0
        self._packed = 0
        self._first = True

    def add(self, texts: Iterable[str]) -> Compressor:
        for text in texts:
            data = text.encode("utf-8") if self._first else b"\n" + text.encode("utf-8")
            self._first = False
            self.raw += len(data)
            self._packed += len(self._z.compress(data))
        return self

    def sizes(self) -> tuple[int, int]:
        """(raw bytes, compressed bytes) so far; more texts may follow."""
        if not self.raw:
            return 0, 0
        return self.raw, self._packed + len(self._z.copy().flush())


def compressed_sizes(texts: Iterable[str]) -> tuple[int, int]:
    """(raw bytes, compressed bytes) of the texts joined by newlines."""
    return Compressor().add(texts).sizes()


def compression_ratio(texts: Iterable[str]) -> float:
    """Raw size over compressed size: higher is more repetitive (a collapsed set compresses
    well); 0 for an empty corpus."""
    raw, packed = compressed_sizes(texts)
    return raw / packed if packed else 0.0


def ngram_entropy(texts: Iterable[str], n: int = ENTROPY_N) -> float:
    """Shannon entropy (bits) of the corpus's word n-gram distribution."""
    counts: Counter[tuple[str, ...]] = Counter()
    for text in texts:
        counts.update(ngrams(words(text), n))
    return entropy(counts)


def entropy(counts: Counter) -> float:
    total = sum(counts.values())
    if not total:
        return 0.0
    return -sum(c / total * math.log2(c / total) for c in counts.values())


def lexical(texts: Sequence[str]) -> dict[str, float]:
    """Every lexical measure of one corpus (read once per measure; the corpus is a sample)."""
    tokenized = [words(t) for t in texts]
    values = [v for v in (mattr(t) for t in tokenized) if v is not None]
    out: dict[str, float] = {}
    for n in (1, 2, 3):
        grams = Counter(g for t in tokenized for g in ngrams(t, n))
        total = sum(grams.values())
        out[f"distinct_{n}"] = len(grams) / total if total else 0.0
        if n == ENTROPY_N:
            out["ngram_entropy"] = entropy(grams)
    out["mattr"] = sum(values) / len(values) if values else 0.0
    out["compression_ratio"] = compression_ratio(texts)
    return out
