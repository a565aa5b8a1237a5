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
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from workers.metrics.k_center import farthest_point_order

# Farthest-point costs (tied items) x (items picked) dot products; past this many, the
# picks are made from the first items of the tie in ranking order (mean score, then seeded rank).
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


@dataclass(frozen=True)
class Ranked:
    key: Hashable
    stratum: Hashable
    sort_key: tuple  # lower is better
    tier: tuple | None = None  # equally good items share one; None: every item is its own
    generator: str = ""


class Pool:
    """The approved synthetic rows an export may keep, as arrays (about 40 bytes a row, not
    a few hundred as objects): each row's key, stratum, place in the ranking (0 is best),
    tier (equal: equally good; never decreasing along the ranking) and generator."""

    def __init__(
        self,
        keys: np.ndarray,
        strata: np.ndarray,
        labels: list[Hashable],
        position: np.ndarray,
        tier: np.ndarray,
        generator: np.ndarray,
        generators: list[str],
    ) -> None:
        self.keys, self.strata, self.labels = keys, strata, labels
        self.position, self.tier = position, tier
        self.generator, self.generators = generator, generators

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def of(cls, items: Sequence[Ranked]) -> Pool:
        """From ranked items with any sortable keys (tests, small inputs)."""
        order = sorted(range(len(items)), key=lambda i: items[i].sort_key)
        position = np.empty(len(items), np.int64)
        position[order] = np.arange(len(items))
        tier = np.empty(len(items), np.int64)
        previous, t = object(), -1
        for i in order:
            value = items[i].sort_key if items[i].tier is None else items[i].tier
            if value != previous:
                previous, t = value, t + 1
            tier[i] = t
        labels = sorted({i.stratum for i in items}, key=str)
        generators = sorted({i.generator for i in items})
        code = {s: n for n, s in enumerate(labels)}
        gen = {g: n for n, g in enumerate(generators)}
        keys = np.empty(len(items), dtype=object)
        keys[:] = [i.key for i in items]
        return cls(
            keys,
            np.array([code[i.stratum] for i in items], np.int32),
            labels,
            position,
            tier,
            np.array([gen[i.generator] for i in items], np.int32),
            generators,
        )

    @classmethod
    def ranked(
        cls,
        keys: np.ndarray,
        strata: np.ndarray,
        labels: list[Hashable],
        columns: Sequence[np.ndarray],
        tier_columns: int,
        generator: np.ndarray,
        generators: list[str],
    ) -> Pool:
        """Ranked by `columns`, each ascending (lower is better), the first `tier_columns`
        of them making the tier, ties broken by the later ones and finally the key."""
        order = np.lexsort((keys, *reversed(columns)))
        position = np.empty(len(keys), np.int64)
        position[order] = np.arange(len(keys))
        changed = np.zeros(len(keys), bool)
        for column in columns[:tier_columns]:
            c = column[order]
            changed[1:] |= c[1:] != c[:-1]
        tier = np.empty(len(keys), np.int64)
        tier[order] = np.cumsum(changed)
        return cls(keys, strata, labels, position, tier, generator, generators)


Vectors = Callable[[list], np.ndarray]  # keys -> one embedding row each


class Selection:
    """The synthetic items kept under each of a set of caps (one, or a ladder's steps).

    Each stratum's items are put in one order, best first, and a cap keeps a prefix of
    it: whole tiers while they fit, then, in the tier the cap cuts, a greedy
    farthest-point order (when `vectors` is given; else the ranking). Every cut of every
    cap is known up front, so the tiers cut are ordered once and the caps' sets nest.

    `max_per_generator` caps the share of the kept synthetic items any one generator
    model supplies: an over-share model gives up its lowest-ranked items until every
    model is within it (the room it frees is not refilled)."""

    def __init__(
        self,
        humans_by_stratum: Counter,
        synthetic: Pool | Sequence[Ranked],
        caps: Sequence[float],
        *,
        vectors: Vectors | None = None,
        max_per_generator: float | None = None,
    ) -> None:
        pool = synthetic if isinstance(synthetic, Pool) else Pool.of(synthetic)
        self.pool = pool
        self.humans = humans_by_stratum
        self.max_per_generator = max_per_generator
        self.diversity: list[dict[str, Any]] = []  # each tier ordered by farthest point
        self.order: dict[int, np.ndarray] = {}  # stratum code -> pool indices, best first
        for code, label in enumerate(pool.labels):
            idx = np.flatnonzero(pool.strata == code)
            idx = idx[np.argsort(pool.position[idx], kind="stable")]
            cuts = {synthetic_allowed(f, humans_by_stratum.get(label, 0)) for f in caps}
            self.order[code] = self._ordered(label, idx, cuts, vectors)

    def _ordered(
        self, label: Hashable, idx: np.ndarray, cuts: set[int], vectors: Vectors | None
    ) -> np.ndarray:
        last = min(max(cuts, default=0), len(idx))
        if vectors is None or last == 0:
            return idx[:last]
        keys, out, taken = self.pool.keys, [], 0
        bounds = np.flatnonzero(np.diff(self.pool.tier[idx])) + 1
        for tie in np.split(idx, bounds):
            if taken >= last:
                break
            inside = [c - taken for c in cuts if 0 < c - taken < len(tie)]
            if not inside:
                out.append(tie)
                taken += len(tie)
                continue
            r = max(inside)
            pool = tie if len(tie) * r <= BUDGET else tie[: max(r, BUDGET // r)]
            before = np.concatenate(out) if out else idx[:0]
            seeds = before[:: max(1, len(before) // SEEDS)][:SEEDS]
            picks = farthest_point_order(
                vectors(keys[pool].tolist()), r, vectors(keys[seeds].tolist()) if len(seeds) else None
            )
            rest = np.ones(len(pool), bool)
            rest[picks] = False
            out += [pool[picks], pool[rest], tie[len(pool) :]]
            taken += len(tie)
            self.diversity.append(
                {"stratum": str(label), "tied": len(tie), "considered": len(pool), "picked": r}
            )
        return np.concatenate(out)[:last]

    def indices(self, f: float) -> np.ndarray:
        """Pool indices kept under cap f, best first within each stratum."""
        parts = [
            order[: synthetic_allowed(f, self.humans.get(self.pool.labels[code], 0))]
            for code, order in self.order.items()
        ]
        kept = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        if self.max_per_generator is not None:
            kept = self._generator_capped(kept, self.max_per_generator)
        return kept

    def kept(self, f: float) -> list:
        """Keys kept under cap f, best first within each stratum."""
        return self.pool.keys[self.indices(f)].tolist()

    def excluded(self, f: float) -> dict[str, int]:
        """Why the rows not kept under cap f were left out: their stratum has no human row
        (so no room at any cap), the cap itself, or the generator cap."""
        pool = self.pool
        humanless = [c for c, label in enumerate(pool.labels) if not self.humans.get(label, 0)]
        without = int(np.isin(pool.strata, humanless).sum()) if humanless else 0
        uncapped = sum(
            len(order[: synthetic_allowed(f, self.humans.get(pool.labels[code], 0))])
            for code, order in self.order.items()
        )
        kept = len(self.indices(f))
        return {
            "approved_synthetic_in_a_stratum_without_human_rows": without,
            "approved_synthetic_over_cap": len(pool) - without - uncapped,
            "approved_synthetic_over_generator_cap": uncapped - kept,
        }

    def _generator_capped(self, kept: np.ndarray, share: float) -> np.ndarray:
        q = as_fraction(share)
        keep = np.ones(len(kept), bool)
        gens = self.pool.generator[kept]
        worst_first = np.argsort(-self.pool.position[kept], kind="stable")
        while True:
            limit = math.floor(q * int(keep.sum()))
            counts = np.bincount(gens[keep], minlength=len(self.pool.generators))
            over = np.maximum(counts - limit, 0)
            if not over.any():
                return kept[keep]
            for i in worst_first:
                if keep[i] and over[gens[i]] > 0:
                    over[gens[i]] -= 1
                    keep[i] = False


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
