"""Inter-rater agreement of expert review decisions. When several experts review the same
items, how often they agree tells an admin whether the guidelines are understood: low agreement
means the guidelines, not the experts, need work. Percent agreement is easy to read but flatters
a skewed task (if nearly everything is accepted, experts agree by chance); Cohen's and Fleiss'
kappa and Krippendorff's alpha correct it for the agreement chance alone would give.

An item is a sequence of (rater, label) pairs: a rater is any hashable (a user id), a label a
string ("accept", "reject", "edit:<hash>"). A rater who labels an item twice counts once, with
the last label. Items with fewer than two raters say nothing about agreement and are ignored."""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score

Item = Sequence[tuple[Hashable, str]]


@dataclass(frozen=True)
class Agreement:
    items: int  # items with at least two raters
    percent: float | None  # share of those items on which every rater gave the same label, in %
    kappa: float | None  # Fleiss' kappa
    alpha: float | None  # Krippendorff's alpha, nominal

    def to_dict(self) -> dict:
        return {
            "items": self.items,
            "percent": _round(self.percent, 1),
            "kappa": _round(self.kappa, 4),
            "alpha": _round(self.alpha, 4),
        }


@dataclass(frozen=True)
class PairAgreement:
    a: Hashable
    b: Hashable
    items: int  # items both raters labelled
    percent: float  # share of those items on which they gave the same label, in %
    kappa: float | None  # Cohen's kappa


def agreement(items: Iterable[Item]) -> Agreement:
    """Agreement over all raters; every figure is None when no item has two raters."""
    rated = _rated(items)
    if not rated:
        return Agreement(items=0, percent=None, kappa=None, alpha=None)
    same = sum(len(set(labels.values())) == 1 for labels in rated)
    return Agreement(
        items=len(rated), percent=100 * same / len(rated), kappa=_fleiss(rated), alpha=_alpha(rated)
    )


def pairs(items: Iterable[Item], min_items: int = 1) -> list[PairAgreement]:
    """Agreement of each two raters on the items both labelled, for every pair sharing at least
    `min_items` items, sorted by (a, b) with a < b. Cohen's kappa is None when it is undefined:
    both raters gave one and the same label to every common item (chance agreement is then
    certain, so agreement beyond chance cannot be measured, although percent is 100)."""
    rated = _rated(items)
    found = []
    for a, b in combinations(_ordered({rater for labels in rated for rater in labels}), 2):
        common = [(labels[a], labels[b]) for labels in rated if a in labels and b in labels]
        if not common or len(common) < min_items:
            continue
        ya, yb = zip(*common, strict=True)
        kappa = None if len(set(ya) | set(yb)) == 1 else float(cohen_kappa_score(ya, yb))
        percent = 100 * sum(x == y for x, y in common) / len(common)
        found.append(PairAgreement(a=a, b=b, items=len(common), percent=percent, kappa=kappa))
    return found


def _rated(items: Iterable[Item]) -> list[dict[Hashable, str]]:
    """Each item as {rater: label}, keeping the items with at least two raters."""
    rated = [dict(item) for item in items]
    return [labels for labels in rated if len(labels) >= 2]


def _fleiss(rated: list[dict[Hashable, str]]) -> float | None:
    """Fleiss' kappa; for two experts over the same items, Cohen's kappa is in `pairs`.
    Generalised to a varying number of raters n_i per item: P_i = (sum_j n_ij^2 - n_i) /
    (n_i (n_i - 1)), P_e = sum_j p_j^2 with p_j the share of category j among all labels."""
    totals: Counter[str] = Counter()
    p_items = []
    for labels in rated:
        counts = Counter(labels.values())
        n = len(labels)
        totals.update(counts)
        p_items.append((sum(c * c for c in counts.values()) - n) / (n * (n - 1)))
    p_bar = sum(p_items) / len(p_items)
    n_labels = sum(totals.values())
    p_e = sum((c / n_labels) ** 2 for c in totals.values())
    if len(totals) == 1:  # P_e == 1: every label in one category
        return 1.0 if p_bar == 1 else None
    return (p_bar - p_e) / (1 - p_e)


def _alpha(rated: list[dict[Hashable, str]]) -> float | None:
    """Krippendorff's alpha, nominal: a raters x items matrix of label codes, nan where a rater
    did not label an item. 1.0 when every label is equal (the package refuses a single value)."""
    raters = {rater: i for i, rater in enumerate(dict.fromkeys(r for labels in rated for r in labels))}
    codes = {label: i for i, label in enumerate(dict.fromkeys(v for lb in rated for v in lb.values()))}
    matrix = np.full((len(raters), len(rated)), np.nan)
    for j, labels in enumerate(rated):
        for rater, label in labels.items():
            matrix[raters[rater], j] = codes[label]
    try:
        alpha = float(krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal"))
    except ValueError:
        return 1.0 if len(codes) == 1 else None
    return None if np.isnan(alpha) else alpha


def _ordered(raters: set[Hashable]) -> list[Hashable]:
    try:
        return sorted(raters)
    except TypeError:  # raters of mixed types: ordered by their text
        return sorted(raters, key=str)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
