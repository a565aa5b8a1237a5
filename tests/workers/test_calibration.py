"""Critic-versus-expert figures checked against ones computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import spearmanr

from workers.critics.calibration import CriticCalibration, critic_calibration, spearman


def test_it_counts_agreement_on_a_small_panel() -> None:
    rows = [
        # score, critic passed, expert accepted
        (0.9, True, True),  # tp
        (0.8, True, False),  # fp
        (0.7, True, True),  # tp
        (0.4, False, True),  # fn
        (0.2, False, False),  # tn
    ]
    # tp=2 fp=1 fn=1 tn=1 -> precision 2/3, recall 2/3.
    # AUC: accepted scores {0.9, 0.7, 0.4}, rejected {0.8, 0.2}; (pos, neg) pairs ordered
    # right: (.9,.8) (.9,.2) (.7,.2) (.4,.2) = 4 of 6, wrong: (.7,.8) (.4,.8) -> 4/6.
    c = critic_calibration(rows)
    assert (c.n, c.tp, c.fp, c.fn, c.tn) == (5, 2, 1, 1, 1)
    assert c.precision == pytest.approx(2 / 3) and c.recall == pytest.approx(2 / 3)
    assert c.auc == pytest.approx(4 / 6)


def test_it_counts_ties_as_half_and_leaves_unscored_rows_out_of_the_auc() -> None:
    rows = [
        (0.5, True, True),  # tp
        (0.5, False, False),  # tn
        (1.0, True, True),  # tp
        (None, True, False),  # fp, not in the AUC
        (None, False, True),  # fn, not in the AUC
        (None, False, True),  # fn, not in the AUC
        (0.0, False, False),  # tn
    ]
    # tp=2 fp=1 fn=2 tn=2 -> precision 2/3, recall 2/4.
    # AUC over scored rows: accepted {0.5, 1.0}, rejected {0.5, 0.0}; pairs
    # (.5,.5) tie = 0.5, (.5,0) 1, (1,.5) 1, (1,0) 1 -> 3.5/4 = 0.875.
    c = critic_calibration(rows)
    assert (c.n, c.tp, c.fp, c.fn, c.tn) == (7, 2, 1, 2, 2)
    assert c.precision == pytest.approx(2 / 3) and c.recall == pytest.approx(0.5)
    assert c.auc == pytest.approx(0.875)


def test_it_says_none_where_a_figure_is_undefined() -> None:
    empty = critic_calibration([])
    assert empty == CriticCalibration(n=0, auc=None, precision=None, recall=None, tp=0, fp=0, fn=0, tn=0)

    # Only one outcome: no AUC; precision and recall still defined.
    one = critic_calibration([(0.9, True, True), (0.3, True, True), (0.1, False, True)])
    assert one.auc is None and one.precision == 1.0 and one.recall == pytest.approx(2 / 3)

    # The critic never passed: no precision; every acceptance missed, so recall is 0.
    never = critic_calibration([(0.2, False, True), (0.1, False, False)])
    assert never.precision is None and never.recall == 0.0 and never.auc == 1.0

    # Nothing accepted: no recall. No scores at all: no AUC.
    unscored = critic_calibration([(None, True, False), (None, False, False)])
    assert unscored.recall is None and unscored.precision == 0.0 and unscored.auc is None
    assert (unscored.fp, unscored.tn) == (1, 1)


def test_its_dict_speaks_the_contract_names() -> None:
    c = critic_calibration([(0.9, True, True), (0.8, True, False), (0.1, False, True)])
    assert c.as_dict() == {
        "auc": 0.5,  # accepted {0.9, 0.1} vs rejected {0.8}: one pair right, one wrong
        "precision": 0.5,
        "recall": 0.5,
        "n": 3,
        "confusion": {"tp": 1, "fp": 1, "fn": 1, "tn": 0},
    }


def test_spearman_matches_a_hand_computed_rank_correlation() -> None:
    # Ranks 1..5 against 2,1,4,3,5: d = -1,1,-1,1,0, sum d^2 = 4,
    # rho = 1 - 6*4 / (5*(25-1)) = 1 - 24/120 = 0.8.
    rho, n = spearman([1, 2, 3, 4, 5], [0.2, 0.1, 0.4, 0.3, 0.5])
    assert n == 5 and rho == pytest.approx(0.8)
    rho, _ = spearman([1, 2, 3], [30, 20, 10])
    assert rho == pytest.approx(-1.0)


def test_spearman_agrees_with_scipy_with_ties() -> None:
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, 40).astype(float)  # many ties
    b = a + rng.normal(0, 2, 40)
    rho, n = spearman(list(a), list(b))
    assert n == 40 and rho == pytest.approx(spearmanr(a, b).statistic)


def test_spearman_is_none_when_undefined() -> None:
    assert spearman([], []) == (None, 0)
    assert spearman([0.1, 0.2], [0.3, 0.4]) == (None, 2)
    assert spearman([0.5, 0.5, 0.5], [0.1, 0.2, 0.3]) == (None, 3)
    assert spearman([0.1, 0.2, 0.3], [1, 1, 1]) == (None, 3)
    with pytest.raises(ValueError, match="paired"):
        spearman([0.1, 0.2, 0.3], [0.1, 0.2])
