"""Lexical diversity. Collapse shows first as fewer distinct n-grams across a corpus."""

from __future__ import annotations

from collections.abc import Iterable

from workers.critics.text import words


def distinct_n(texts: Iterable[str], n: int) -> float:
    """Corpus-level distinct-n: distinct n-grams over all n-grams of all texts
    (lower-cased words); 0 for an empty corpus."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        tokens = words(text)
        grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
        total += len(grams)
        seen.update(grams)
    return len(seen) / total if total else 0.0
