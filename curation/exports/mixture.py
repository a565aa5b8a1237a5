"""The mixture policy as arithmetic (DESIGN "Mixture policy"); no Django here.

Synthetic / (synthetic + human) <= f overall and within each stratum; human data is
never dropped; synthetic items are taken best-ranked first, so a ladder of caps
gives nested synthetic subsets over an identical human part.

Best-ranked means: the human decision first, then critic quality (both make the item's
tier), then diversity. Where a cap cuts through a tier of equally good items, the ones
kept are chosen by greedy farthest-point on their embeddings, seeded by the rows already
kept, so the mixture keeps its tails instead of its most typical samples."""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import groupby
from typing import Any

import numpy as np

from workers.metrics.k_center import farthest_point_order

# Farthest-point costs (tied items) x (items picked) dot products; past this many, the
# picks are made from a seeded sample of the tie (its first items by seeded rank).
BUDGET = 50_000_000
SEEDS = 4096  # kept rows the picks are kept away from (evenly spaced along the ranking)


def as_fraction(f: float) -> Fraction:
    """0.3 as exactly 3/10 (not the binary float), so caps are computed without drift."""
    return Fraction(str(f))


def synthetic_allowed(f: float, humans: int) -> int:
    """The most synthetic items s with s / (s + humans) <= f."""
    q = as_fraction(f)
    if q <= 0:
        return 0
    if q >= 1:
        raise ValueError("max_synthetic must be below 1")
    return math.floor(q * humans / (1 - q))


def seeded_rank(seed: int, key: str) -> int:
    """A tie-breaker that is stable for a seed and independent of database order: 64 bits
    of SHA-256, so a million rows' ranks fit in 8 MB."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{key}".encode()).digest()[:8], "big")


class RowOrder:
    """Rows (ids) in seeded-rank order, held as two numpy arrays (16 bytes a row) rather
    than a list of tuples (about 10 times that)."""

    def __init__(self) -> None:
        self._ranks: list[int] = []
        self._ids: list[int] = []
        self.ranks = np.zeros(0, np.uint64)
        self.ids = np.zeros(0, np.int64)

    def add(self, rank: int, pk: int) -> None:
        self._ranks.append(rank)
        self._ids.append(pk)
        if len(self._ids) >= 65536:
            self._spill()

    def _spill(self) -> None:
        self.ranks = np.concatenate([self.ranks, np.array(self._ranks, np.uint64)])
        self.ids = np.concatenate([self.ids, np.array(self._ids, np.int64)])
        self._ranks, self._ids = [], []

    def sorted(self) -> RowOrder:
        self._spill()
        order = np.lexsort((self.ids, self.ranks))
        self.ranks, self.ids = self.ranks[order], self.ids[order]
        return self

    def __len__(self) -> int:
        return len(self.ids) + len(self._ids)

    def parts(self, size: int):
        """(rank, id) pairs as Python ints, `size` at a time."""
        for i in range(0, len(self.ids), size):
            yield list(zip(self.ranks[i : i + size].tolist(), self.ids[i : i + size].tolist(), strict=True))


@dataclass(frozen=True)
class Ranked:
    key: str
    stratum: Hashable
    sort_key: tuple  # lower is better
    tier: tuple | None = None  # equally good items share one; None: every item is its own
    generator: str = ""


Vectors = Callable[[list[str]], np.ndarray]  # keys -> one embedding row each


class Selection:
    """The synthetic items kept under each of a set of caps (one, or a ladder's steps).

    Each stratum's items are put in one order, best first, and a cap keeps a prefix of
    it: whole tiers while they fit, then, in the tier the cap cuts, a greedy
    farthest-point order (when `vectors` is given; else the sort order). Every cut of
    every cap is known up front, so the tiers cut are ordered once and the caps' sets nest.

    `max_per_generator` caps the share of the kept synthetic items any one generator
    model supplies: an over-share model gives up its lowest-ranked items until every
    model is within it (the room it frees is not refilled)."""

    def __init__(
        self,
        humans_by_stratum: Counter,
        synthetic: Sequence[Ranked],
        caps: Sequence[float],
        *,
        vectors: Vectors | None = None,
        max_per_generator: float | None = None,
    ) -> None:
        self.humans = humans_by_stratum
        self.max_per_generator = max_per_generator
        self.diversity: list[dict[str, Any]] = []  # each tier ordered by farthest point
        by_stratum: dict[Hashable, list[Ranked]] = defaultdict(list)
        for item in synthetic:
            by_stratum[item.stratum].append(item)
        self.eligible = {s: len(items) for s, items in by_stratum.items()}
        self.order: dict[Hashable, list[Ranked]] = {}
        for stratum in sorted(by_stratum, key=str):
            items = sorted(by_stratum[stratum], key=lambda i: i.sort_key)
            cuts = {synthetic_allowed(f, humans_by_stratum.get(stratum, 0)) for f in caps}
            self.order[stratum] = self._ordered(stratum, items, cuts, vectors)

    def _ordered(
        self, stratum: Hashable, items: list[Ranked], cuts: set[int], vectors: Vectors | None
    ) -> list[Ranked]:
        last = min(max(cuts, default=0), len(items))
        if vectors is None:
            return items[:last]
        out: list[Ranked] = []
        for _, group in groupby(items, key=lambda i: i.sort_key if i.tier is None else i.tier):
            if len(out) >= last:
                break
            tie = list(group)
            inside = [c - len(out) for c in cuts if 0 < c - len(out) < len(tie)]
            if not inside:
                out += tie
                continue
            r = max(inside)
            pool = tie if len(tie) * r <= BUDGET else tie[: max(r, BUDGET // r)]
            kept = out[:: max(1, len(out) // SEEDS)][:SEEDS]
            picks = farthest_point_order(
                vectors([i.key for i in pool]), r, vectors([i.key for i in kept]) if kept else None
            )
            chosen = set(picks)
            out += [pool[j] for j in picks] + [x for j, x in enumerate(pool) if j not in chosen]
            out += tie[len(pool) :]
            self.diversity.append(
                {"stratum": str(stratum), "tied": len(tie), "considered": len(pool), "picked": r}
            )
        return out[:last]

    def kept(self, f: float) -> list[str]:
        """Keys kept under cap f, best first within each stratum."""
        ranked = []
        for stratum, order in self.order.items():
            ranked += order[: synthetic_allowed(f, self.humans.get(stratum, 0))]
        if self.max_per_generator is not None:
            ranked = _generator_capped(ranked, self.max_per_generator)
        return [i.key for i in ranked]


def _generator_capped(ranked: list[Ranked], share: float) -> list[Ranked]:
    q = as_fraction(share)
    dropped: set[str] = set()
    while True:
        left = [i for i in ranked if i.key not in dropped]
        limit = math.floor(q * len(left))
        counts = Counter(i.generator for i in left)
        over = {g: n - limit for g, n in counts.items() if n > limit}
        if not over:
            return left
        for item in sorted(left, key=lambda i: i.sort_key, reverse=True):  # worst first
            if over.get(item.generator, 0) > 0:
                over[item.generator] -= 1
                dropped.add(item.key)


def select(
    humans_by_stratum: Counter,
    synthetic: Sequence[Ranked],
    f: float,
    *,
    vectors: Vectors | None = None,
    max_per_generator: float | None = None,
) -> list[str]:
    """Keys of the synthetic items kept under cap f, best first within each stratum."""
    return Selection(
        humans_by_stratum, synthetic, [f], vectors=vectors, max_per_generator=max_per_generator
    ).kept(f)


def fraction(synthetic: int, total: int) -> float:
    return round(synthetic / total, 6) if total else 0.0
