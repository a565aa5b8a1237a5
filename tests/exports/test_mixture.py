"""The mixture policy's arithmetic (curation/exports/mixture.py, DESIGN "Mixture policy"):
exact fractions, caps per stratum, best-ranked first, nested ladders. No database."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

import numpy as np
import pytest

from curation.exports import mixture
from curation.exports.mixture import Ranked


def test_a_cap_of_0_3_with_7_humans_allows_exactly_3_synthetic():
    assert mixture.synthetic_allowed(0.3, 7) == 3  # 3 / 10 is exactly the cap


def test_the_allowance_is_exact_where_float_arithmetic_drifts():
    # 7 / (7 + 13) is exactly 0.35, but in binary floats 0.35 * 13 / 0.65 falls just below 7.
    assert 0.35 * 13 / (1 - 0.35) < 7
    assert mixture.synthetic_allowed(0.35, 13) == 7


@pytest.mark.parametrize(
    "f, humans, allowed",
    [
        (0.3, 10, 4),  # the tea source: floor(3 / 0.7) = 4
        (0.3, 0, 0),  # nothing human, nothing synthetic: the cap is on the share
        (0.0, 1000, 0),
        (0.1, 9, 1),
        (0.1, 10, 1),
        (0.2, 8, 2),
        (0.5, 3, 3),
        (0.25, 6, 2),
    ],
)
def test_the_allowance_is_the_largest_count_under_the_cap(f, humans, allowed):
    assert mixture.synthetic_allowed(f, humans) == allowed


@pytest.mark.parametrize("f", [0.05, 0.1, 0.15, 0.2, 0.3, 0.33, 0.4, 0.5, 0.7, 0.9, 0.99])
def test_the_allowance_is_never_over_the_cap_and_one_more_would_be(f):
    cap = Fraction(str(f))
    for humans in range(0, 200):
        s = mixture.synthetic_allowed(f, humans)
        if s + humans:
            assert Fraction(s, s + humans) <= cap
        assert Fraction(s + 1, s + 1 + humans) > cap


def test_a_cap_of_1_or_more_is_refused():
    with pytest.raises(ValueError, match="below 1"):
        mixture.synthetic_allowed(1.0, 10)


def test_0_3_is_read_as_exactly_three_tenths():
    assert mixture.as_fraction(0.3) == Fraction(3, 10)


def _items(stratum: str, n: int, prefix: str | None = None) -> list[Ranked]:
    prefix = prefix or stratum
    return [Ranked(f"{prefix}-{i}", stratum, (i,)) for i in range(n)]


def test_a_zero_cap_keeps_no_synthetic():
    assert mixture.select(Counter({"all": 100}), _items("all", 10), 0.0) == []


def test_each_stratum_gets_its_own_allowance():
    humans = Counter({"brewing": 4, "kinds": 7, "storage": 2})
    synthetic = _items("brewing", 5) + _items("kinds", 5) + _items("storage", 5) + _items("unseen", 5)
    kept = mixture.select(humans, synthetic, 0.3)
    by_stratum = Counter(k.split("-")[0] for k in kept)
    # brewing floor(1.2/0.7)=1, kinds floor(2.1/0.7)=3, storage floor(0.6/0.7)=0; a stratum
    # with no human rows takes no synthetic ones.
    assert by_stratum == Counter({"brewing": 1, "kinds": 3})
    for stratum, n in by_stratum.items():
        assert Fraction(n, n + humans[stratum]) <= Fraction(3, 10)


def test_the_best_ranked_items_are_kept_whatever_their_input_order():
    items = [
        Ranked("weak", "all", (0, -0.2, "a")),
        Ranked("twice-approved", "all", (-2, -0.5, "z")),
        Ranked("strong", "all", (-1, -0.9, "b")),
        Ranked("tied-b", "all", (-1, -0.5, "b")),
        Ranked("tied-a", "all", (-1, -0.5, "a")),
    ]
    # 7 humans at 0.3 allow 3.
    assert mixture.select(Counter({"all": 7}), items, 0.3) == ["twice-approved", "strong", "tied-a"]
    assert mixture.select(Counter({"all": 7}), list(reversed(items)), 0.3) == [
        "twice-approved",
        "strong",
        "tied-a",
    ]


def test_a_ladder_of_caps_gives_nested_synthetic_sets():
    humans = Counter({"a": 40, "b": 25})
    synthetic = _items("a", 30) + _items("b", 30)
    previous: set[str] = set()
    sizes = []
    for f in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5):
        kept = set(mixture.select(humans, synthetic, f))
        assert previous <= kept
        previous = kept
        sizes.append(len(kept))
    assert sizes == sorted(sizes) and sizes[0] == 0 and sizes[-1] > sizes[1]


def test_the_seeded_rank_is_stable_for_a_seed_and_changes_with_it():
    keys = [f"candidate-{i}" for i in range(20)]
    order = sorted(keys, key=lambda k: mixture.seeded_rank(7, k))
    assert order == sorted(keys, key=lambda k: mixture.seeded_rank(7, k))
    assert order != sorted(keys, key=lambda k: mixture.seeded_rank(8, k))


def test_the_fraction_is_rounded_and_zero_for_nothing():
    assert mixture.fraction(4, 14) == 0.285714
    assert mixture.fraction(0, 0) == 0.0


# Diversity under the cap: where a cap cuts through equally good items, greedy farthest point.


def _clustered(seed: int = 0):
    """60 near copies of one text (a typical mass) and 12 rare ones, each its own direction."""
    rng = np.random.default_rng(seed)
    common = np.eye(16, dtype=np.float32)[0] + 0.01 * rng.standard_normal((60, 16)).astype(np.float32)
    rare = np.eye(16, dtype=np.float32)[4:16] + 0.01 * rng.standard_normal((12, 16)).astype(np.float32)
    keys = [f"common-{i}" for i in range(60)] + [f"rare-{i}" for i in range(12)]
    vecs = dict(zip(keys, np.vstack([common, rare]), strict=True))
    # One tier (same decision, same quality); the seeded order puts the rare ones last.
    items = [Ranked(k, "all", (0, n), tier=(0,)) for n, k in enumerate(keys)]
    return items, lambda ks: np.stack([vecs[k] for k in ks])


def test_a_cap_that_cuts_a_tie_keeps_the_tails_not_the_most_typical():
    items, vectors = _clustered()
    humans = Counter({"all": 30})  # 0.3 of 30 humans allows 12
    plain = mixture.select(humans, items, 0.3)
    diverse = mixture.select(humans, items, 0.3, vectors=vectors)
    assert len(plain) == len(diverse) == 12
    assert sum(k.startswith("rare") for k in plain) == 0
    # The first pick is the best-ranked; every other one is a rare direction.
    assert diverse[0] == "common-0" and sum(k.startswith("rare") for k in diverse) == 11


def test_quality_comes_before_diversity():
    items, vectors = _clustered()
    # The common items are a better tier: the cap takes them first, whatever their sameness.
    items = [
        Ranked(
            i.key,
            "all",
            (0 if i.key.startswith("common") else 1, n),
            tier=(0 if i.key.startswith("common") else 1,),
        )
        for n, i in enumerate(items)
    ]
    kept = mixture.select(Counter({"all": 30}), items, 0.3, vectors=vectors)
    assert all(k.startswith("common") for k in kept)


def test_the_picks_keep_away_from_the_rows_already_kept():
    items, vectors = _clustered()
    # rare-0..5 are a better tier, so kept whole; the cut tier's picks then avoid their directions.
    better = {f"rare-{i}" for i in range(6)}
    items = [
        Ranked(i.key, "all", (0 if i.key in better else 1, n), tier=(0 if i.key in better else 1,))
        for n, i in enumerate(items)
    ]
    kept = mixture.select(Counter({"all": 30}), items, 0.3, vectors=vectors)
    assert set(kept[:6]) == better
    # The six picks are six different directions, none already kept: never two copies of the common text.
    rest = kept[6:]
    assert len(rest) == 6 and sum(k.startswith("common") for k in rest) <= 1
    assert not set(rest) & better


def test_a_ladder_with_diversity_still_nests():
    items, vectors = _clustered()
    humans = Counter({"all": 40})
    caps = [0.0, 0.05, 0.1, 0.2, 0.3]
    selection = mixture.Selection(humans, items, caps, vectors=vectors)
    previous: list[str] = []
    for f in caps:
        kept = selection.kept(f)
        assert kept[: len(previous)] == previous
        assert kept == mixture.select(humans, items, f, vectors=vectors) or f != caps[-1]
        previous = kept
    assert len(previous) == mixture.synthetic_allowed(0.3, 40)


def test_a_tie_too_large_for_the_budget_is_picked_from_a_seeded_sample(monkeypatch):
    items, vectors = _clustered()
    monkeypatch.setattr(mixture, "BUDGET", 12 * 20)  # 72 tied x 12 picks is over: 20 are considered
    selection = mixture.Selection(Counter({"all": 30}), items, [0.3], vectors=vectors)
    assert selection.diversity == [{"stratum": "all", "tied": 72, "considered": 20, "picked": 12}]
    assert len(selection.kept(0.3)) == 12


def test_a_generator_over_its_share_gives_up_its_lowest_ranked_items():
    items = [Ranked(f"big-{i}", "all", (i,), generator="big") for i in range(8)] + [
        Ranked(f"small-{i}", "all", (10 + i,), generator="small") for i in range(2)
    ]
    kept = mixture.select(Counter({"all": 100}), items, 0.3, max_per_generator=0.6)
    # 10 kept would be 80% big; dropping big's worst until it is within 60% of what is left: 3 big, 2 small.
    assert kept == ["big-0", "big-1", "big-2", "small-0", "small-1"]
    counts = Counter(k.split("-")[0] for k in kept)
    assert Fraction(counts["big"], len(kept)) <= Fraction(3, 5)


def test_a_generator_share_no_model_can_meet_keeps_nothing():
    items = [Ranked(f"a-{i}", "all", (i,), generator="a") for i in range(3)] + [
        Ranked(f"b-{i}", "all", (i,), generator="b") for i in range(3)
    ]
    assert mixture.select(Counter({"all": 100}), items, 0.3, max_per_generator=0.4) == []
