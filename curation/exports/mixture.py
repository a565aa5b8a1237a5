"""The mixture policy as arithmetic (DESIGN "Mixture policy"); no Django here.

Synthetic / (synthetic + human) <= f overall and within each stratum; human data is
never dropped; synthetic items are taken best-ranked first, so a ladder of caps
gives nested synthetic subsets over an identical human part."""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction


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


def seeded_rank(seed: int, key: str) -> str:
    """A tie-breaker that is stable for a seed and independent of database order."""
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


@dataclass(frozen=True)
class Ranked:
    key: str
    stratum: Hashable
    sort_key: tuple  # lower is better


def select(humans_by_stratum: Counter, synthetic: Sequence[Ranked], f: float) -> list[str]:
    """Keys of the synthetic items kept under cap f, best first within each stratum."""
    by_stratum: dict[Hashable, list[Ranked]] = defaultdict(list)
    for item in synthetic:
        by_stratum[item.stratum].append(item)
    kept: list[str] = []
    for stratum, items in by_stratum.items():
        room = synthetic_allowed(f, humans_by_stratum.get(stratum, 0))
        kept += [i.key for i in sorted(items, key=lambda i: i.sort_key)[:room]]
    return kept


def fraction(synthetic: int, total: int) -> float:
    return round(synthetic / total, 6) if total else 0.0
