"""A bounded, deterministic sample of a growing set: the k ids with the smallest hash
("bottom-k"). It is a uniform sample, it is the same whatever order the ids arrive in, and
a grown set's sample only ever gains ids with smaller hashes, so it is kept incrementally."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

SIZE = 1000  # texts per compared group: enough for stable figures, cheap to read back


def ranks(ids: Iterable[int]) -> np.ndarray:
    """splitmix64 of each id: a fixed, well-mixed hash (Python's own hash is salted per process)."""
    with np.errstate(over="ignore"):
        z = np.fromiter(ids, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def bottom_k(ids: Iterable[int], k: int = SIZE, keep: Iterable[int] = ()) -> list[int]:
    """The k ids of `ids` and `keep` (an earlier sample) with the smallest rank, in rank order."""
    pool = np.unique(np.fromiter([*keep, *ids], dtype=np.int64))
    if len(pool) <= k:
        chosen = pool
    else:
        r = ranks(pool.tolist())
        chosen = pool[np.argpartition(r, k - 1)[:k]]
    r = ranks(chosen.tolist())
    return [int(i) for i in chosen[np.argsort(r, kind="stable")]]
