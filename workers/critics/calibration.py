"""How well each critic agrees with the experts.

The positive class is "the expert accepted" (accept or edit). A critic predicts accept
when it passed.

- tp = critic passed & expert accepted; fp = critic passed & expert rejected;
  fn = critic failed & expert accepted; tn = critic failed & expert rejected.
- precision = tp / (tp + fp), recall = tp / (tp + fn); None when the denominator is 0.
- auc = ROC AUC of the critic's score against the expert's accept (sklearn
  roc_auc_score); None when the scored rows hold only one outcome or no scores.
- Rows with score None count in the confusion (by passed) but not in the AUC.
- n = number of rows.

`spearman` is the rank correlation (average ranks for ties) of two paired sequences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score


@dataclass(frozen=True)
class CriticCalibration:
    n: int
    auc: float | None
    precision: float | None
    recall: float | None
    tp: int
    fp: int
    fn: int
    tn: int

    def as_dict(self) -> dict:
        return {
            "auc": self.auc,
            "precision": self.precision,
            "recall": self.recall,
            "n": self.n,
            "confusion": {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn},
        }


def critic_calibration(rows: Sequence[tuple[float | None, bool, bool]]) -> CriticCalibration:
    """rows: (critic score 0..1 or None, critic passed, expert accepted)."""
    tp = fp = fn = tn = 0
    scores: list[float] = []
    accepted: list[int] = []
    for score, passed, human in rows:
        if passed:
            tp, fp = (tp + 1, fp) if human else (tp, fp + 1)
        else:
            fn, tn = (fn + 1, tn) if human else (fn, tn + 1)
        if score is not None:
            scores.append(float(score))
            accepted.append(int(bool(human)))
    auc = float(roc_auc_score(accepted, scores)) if len(set(accepted)) == 2 else None
    return CriticCalibration(
        n=len(rows),
        auc=auc,
        precision=tp / (tp + fp) if tp + fp else None,
        recall=tp / (tp + fn) if tp + fn else None,
        tp=tp,
        fp=fp,
        fn=fn,
        tn=tn,
    )


def spearman(a: Sequence[float], b: Sequence[float]) -> tuple[float | None, int]:
    """Rho and the number of pairs; rho is None below 3 pairs or when a side is constant
    (the correlation is undefined there, not zero)."""
    if len(a) != len(b):
        raise ValueError(f"spearman needs paired values, got {len(a)} and {len(b)}")
    n = len(a)
    if n < 3:
        return None, n
    ra, rb = rankdata(a), rankdata(b)
    if np.ptp(ra) == 0 or np.ptp(rb) == 0:
        return None, n
    return float(np.corrcoef(ra, rb)[0, 1]), n
