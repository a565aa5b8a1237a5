"""Agreement figures checked against textbook examples worked by hand."""

from __future__ import annotations

import pytest

from workers.metrics.agreement import Agreement, PairAgreement, agreement, pairs


def from_counts(table: list[list[int]], categories: str) -> list[list[tuple[int, str]]]:
    """Items from a Fleiss count table (one row per item, one column per category): raters are
    numbered 0, 1, ... within each item, so no rater is the same person across items."""
    items = []
    for row in table:
        labels = [c for c, n in zip(categories, row, strict=True) for _ in range(n)]
        items.append(list(enumerate(labels)))
    return items


def test_fleiss_kappa_of_the_wikipedia_example():
    # Wikipedia, "Fleiss' kappa", worked example: 10 items, 14 raters, 5 categories.
    table = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    # P_i = (sum_j n_ij^2 - 14) / (14 * 13 = 182); sums of squares per row:
    # 196, 60, 70, 94, 74, 98, 58, 46, 66, 66 -> numerators 182, 46, 56, 80, 60, 84, 44, 32, 52, 52
    # P_bar = 688 / 1820 = 0.378022
    # column totals 20, 28, 39, 21, 32 of 140 labels:
    # P_e = (400 + 784 + 1521 + 441 + 1024) / 140^2 = 4170 / 19600 = 0.212755
    # kappa = (0.378022 - 0.212755) / (1 - 0.212755) = 0.165267 / 0.787245 = 0.20993
    result = agreement(from_counts(table, "abcde"))
    assert result.items == 10
    assert result.kappa == pytest.approx((688 / 1820 - 4170 / 19600) / (1 - 4170 / 19600))
    assert result.to_dict()["kappa"] == 0.2099
    assert result.percent == 10.0  # only the first item is unanimous


def test_cohen_kappa_of_a_two_by_two_table():
    # 50 items rated by experts 1 and 2: yes/yes 20, yes/no 5, no/yes 10, no/no 15.
    # p_o = (20 + 15) / 50 = 0.70
    # expert 1 says yes 25/50 = 0.5, expert 2 says yes 30/50 = 0.6
    # p_e = 0.5 * 0.6 + 0.5 * 0.4 = 0.30 + 0.20 = 0.50
    # kappa = (0.70 - 0.50) / (1 - 0.50) = 0.40
    cells = {("yes", "yes"): 20, ("yes", "no"): 5, ("no", "yes"): 10, ("no", "no"): 15}
    items = [[(1, x), (2, y)] for (x, y), n in cells.items() for _ in range(n)]
    [pair] = pairs(items)
    assert (pair.a, pair.b, pair.items) == (1, 2, 50)
    assert pair.percent == pytest.approx(70.0)
    assert pair.kappa == pytest.approx(0.40)
    # Fleiss (Scott's pi for two raters) pools the marginals: "yes" is 55/100 of all labels,
    # P_e = 0.55^2 + 0.45^2 = 0.505, P_bar = p_o = 0.70, kappa = 0.195 / 0.495 = 0.393939
    assert agreement(items).kappa == pytest.approx(0.195 / 0.495)


def test_krippendorff_alpha_of_the_2011_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", nominal data:
    # 4 observers x 12 units, None where an observer did not code a unit.
    data = {
        "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
        "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
        "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
        "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
    }
    items = [
        [(coder, str(values[u])) for coder, values in data.items() if values[u] is not None]
        for u in range(12)
    ]
    # Unit 12 has one value: not pairable, left out. Coincidences o_ck add, for each unit with
    # m_u values, (ordered pairs of values c, k in the unit) / (m_u - 1):
    #   u1 {1,1,1}: o11 += 6/2 = 3        u2 {2,2,3,2}: o22 += 6/3 = 2, o23 = o32 += 3/3 = 1
    #   u3, u4 {3,3,3,3}: o33 += 4 each   u5, u9 {2,2,2,2}: o22 += 4 each   u7 {4,4,4,4}: o44 += 4
    #   u6 {1,2,3,4}: each o_ck (c != k) += 1/3     u8 {1,1,2,1}: o11 += 2, o12 = o21 += 1
    #   u10 {5,5,5}: o55 += 3             u11 {1,1}: o11 += 2/1 = 2
    # o11 = 7, o22 = 10, o33 = 8, o44 = 4, o55 = 3: 32 of n = 40 pairable values agree.
    # n_c (row sums) = 9, 13, 10, 5, 3; sum n_c^2 = 81 + 169 + 100 + 25 + 9 = 384.
    # alpha = 1 - (n - 1) * (n - sum o_cc) / (n^2 - sum n_c^2)
    #       = 1 - 39 * 8 / (1600 - 384) = 1 - 312 / 1216 = 113 / 152 = 0.743421
    result = agreement(items)
    assert result.alpha == pytest.approx(113 / 152)
    assert result.to_dict()["alpha"] == 0.7434
    # 11 items with two coders or more; unanimous: u1, u3, u4, u5, u7, u9, u10, u11 = 8 of 11.
    assert result.items == 11
    assert result.percent == pytest.approx(800 / 11)


# Three experts, varying raters per item, plus an item with one label (ignored everywhere).
VARYING = [
    [(1, "accept"), (2, "accept")],
    [(1, "accept"), (2, "reject"), (3, "reject")],
    [(2, "reject"), (3, "reject")],
    [(1, "edit:9f2c")],
]


def test_varying_raters_per_item():
    result = agreement(VARYING)
    # Fleiss: P_1 = (4 - 2) / 2 = 1, P_2 = (1 + 4 - 3) / 6 = 1/3, P_3 = (4 - 2) / 2 = 1
    # P_bar = (1 + 1/3 + 1) / 3 = 7/9; labels: accept 3, reject 4 of 7
    # P_e = (9 + 16) / 49 = 25/49; kappa = (7/9 - 25/49) / (24/49) = 118/216 = 0.546296
    assert result.kappa == pytest.approx(118 / 216)
    # Krippendorff: o_aa = 2 (item 1), item 2 (m = 3): o_rr += 2/2, o_ar = o_ra += 2/2,
    # o_rr += 2 (item 3): o_aa 2, o_ar 1, o_ra 1, o_rr 3; n_accept 3, n_reject 4, n = 7
    # alpha = 1 - (n - 1) * (o_ar + o_ra) / (2 n_accept n_reject) = 1 - 6 * 2 / 24 = 0.5
    assert result.alpha == pytest.approx(0.5)
    assert result.to_dict() == {"items": 3, "percent": 66.7, "kappa": 0.5463, "alpha": 0.5}


def test_pairs_on_their_common_items():
    found = pairs(VARYING)
    # (1, 2): items 1 and 2, agree on item 1 only. Expert 1 always accepts, so p_e =
    # 1 * 0.5 + 0 * 0.5 = 0.5 = p_o and kappa = 0.
    # (1, 3): item 2 only, accept vs reject: p_o = 0, p_e = 1 * 0 + 0 * 1 = 0, kappa = 0.
    # (2, 3): items 2 and 3, both reject both times: chance agreement is certain, kappa None.
    assert found == [
        PairAgreement(a=1, b=2, items=2, percent=50.0, kappa=0.0),
        PairAgreement(a=1, b=3, items=1, percent=0.0, kappa=0.0),
        PairAgreement(a=2, b=3, items=2, percent=100.0, kappa=None),
    ]
    assert [(p.a, p.b) for p in pairs(VARYING, min_items=2)] == [(1, 2), (2, 3)]
    assert pairs(VARYING, min_items=3) == []


def test_pairs_of_raters_that_do_not_compare_are_ordered_by_their_text():
    items = [[("bob", "accept"), (7, "accept"), ("amy", "reject")]]
    assert [(p.a, p.b) for p in pairs(items)] == [(7, "amy"), (7, "bob"), ("amy", "bob")]


def test_percent_agreement_counts_unanimous_items():
    items = [
        [(1, "accept"), (2, "accept"), (3, "accept")],
        [(1, "accept"), (2, "accept"), (3, "reject")],
        [(1, "edit:ab12"), (2, "edit:ab12")],
        [(1, "edit:ab12"), (2, "edit:cd34")],
    ]
    assert agreement(items).percent == 50.0


def test_all_labels_the_same():
    items = [[(1, "accept"), (2, "accept")], [(1, "accept"), (3, "accept"), (4, "accept")]]
    assert agreement(items) == Agreement(items=2, percent=100.0, kappa=1.0, alpha=1.0)
    # pairs (2, 3) and (2, 4) share no item; every pair that does agrees fully, kappa undefined
    found = pairs(items)
    assert [(p.a, p.b) for p in found] == [(1, 2), (1, 3), (1, 4), (3, 4)]
    assert {(p.percent, p.kappa) for p in found} == {(100.0, None)}


def test_items_with_fewer_than_two_labels_are_ignored():
    assert agreement([[], [(1, "accept")]]) == Agreement(items=0, percent=None, kappa=None, alpha=None)
    assert agreement([[(1, "accept")]]).to_dict() == {
        "items": 0,
        "percent": None,
        "kappa": None,
        "alpha": None,
    }
    # A rater labelling one item twice counts once (the last label): no second rater here.
    assert agreement([[(1, "accept"), (1, "reject")]]).items == 0
    assert pairs([[(1, "accept")], [(2, "accept")]]) == []
