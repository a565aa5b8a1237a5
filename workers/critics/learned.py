"""The learned critic: a calibrated classifier trained on expert decisions.

Features are the candidate's embedding (MiniLM, L2-normalized) followed by the critic
scores in `feature_names` order; a missing score becomes a neutral 0.5 plus a
missing-indicator column. The model is an L2-regularized logistic regression
(class_weight="balanced", C chosen by cross-validation) on scaled features, whose
decision value goes through a Platt sigmoid fitted on out-of-fold decision values.
Label 1 is "the expert accepted" (accept or edit).

Its probability orders the review queue from the start; its floor should reject only
when `quality.good_enough`, which is judged on nested cross-validated predictions so
the figures describe a model that never saw the rows it is scored on.

Everything `predict` uses travels through `to_json`/`from_json` as plain JSON numbers
(no pickle), so a model stored in a DB JSON column predicts exactly as when trained."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

VERSION = "1"
MIN_TRAIN = 30
MIN_PER_CLASS = 5

# The gate for the floor: a ranking clearly better than chance and probabilities that
# mean what they say. ECE is measured in 10 equal-width bins.
MIN_AUC = 0.75
MAX_ECE = 0.1
ECE_BINS = 10

FILL = 0.5  # neutral value for a missing critic score; its indicator column carries the "missing"
C_GRID = (0.01, 0.1, 1.0, 10.0, 100.0, 1000.0)  # inverse L2 strength on the scaled features
MAX_FOLDS = 5


class NotEnoughData(ValueError):
    pass


@dataclass(frozen=True)
class Quality:
    n: int
    auc: float | None
    brier: float
    ece: float
    good_enough: bool
    why: str


@dataclass(eq=False)
class LearnedModel:
    feature_names: tuple[str, ...]
    dim: int
    quality: Quality
    trained_on: int
    mean: np.ndarray  # standardization of the design matrix columns
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    platt_a: float  # p = sigmoid(platt_a * decision + platt_b)
    platt_b: float
    C: float

    def predict(self, embeddings: np.ndarray, features: Sequence[Mapping[str, float | None]]) -> np.ndarray:
        X = _design(embeddings, features, self.feature_names, self.dim)
        return _proba(self._params(), X)

    def _params(self) -> _Params:
        return _Params(self.mean, self.scale, self.coef, self.intercept, self.platt_a, self.platt_b, self.C)

    def to_json(self) -> dict:
        return {
            "version": VERSION,
            "feature_names": list(self.feature_names),
            "dim": self.dim,
            "fill": FILL,
            "trained_on": self.trained_on,
            "quality": asdict(self.quality),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "platt": {"a": self.platt_a, "b": self.platt_b},
            "C": self.C,
        }

    @classmethod
    def from_json(cls, data: Mapping) -> LearnedModel:
        # Another version may build its features differently: predicting with it would be
        # silently wrong, so the caller must retrain.
        if data.get("version") != VERSION or data.get("fill") != FILL:
            raise ValueError(f"learned model version {data.get('version')!r} is not {VERSION!r}: retrain it")
        names = tuple(data["feature_names"])
        dim = int(data["dim"])
        width = dim + 2 * len(names)
        arrays = {k: np.asarray(data[k], dtype=np.float64) for k in ("mean", "scale", "coef")}
        for key, arr in arrays.items():
            if arr.shape != (width,):
                raise ValueError(f"learned model {key}: {arr.shape[0]} values, expected {width}")
        return cls(
            feature_names=names,
            dim=dim,
            quality=Quality(**data["quality"]),
            trained_on=int(data["trained_on"]),
            intercept=float(data["intercept"]),
            platt_a=float(data["platt"]["a"]),
            platt_b=float(data["platt"]["b"]),
            C=float(data["C"]),
            **arrays,
        )


def train(
    embeddings: np.ndarray,
    features: Sequence[Mapping[str, float | None]],
    labels: Sequence[int],
    *,
    feature_names: Sequence[str],
    seed: int = 0,
) -> LearnedModel:
    y = np.asarray(labels, dtype=np.int64)
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be a flat sequence of 0 (rejected) and 1 (accepted)")
    pos, neg = int(y.sum()), int(len(y) - y.sum())
    if len(y) < MIN_TRAIN or min(pos, neg) < MIN_PER_CLASS:
        raise NotEnoughData(
            f"{len(y)} decisions ({pos} accepted, {neg} rejected); need at least {MIN_TRAIN} "
            f"with {MIN_PER_CLASS} of each outcome"
        )
    names = tuple(feature_names)
    embeddings = np.asarray(embeddings)
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be 2-D, got shape {embeddings.shape}")
    dim = int(embeddings.shape[1])
    X = _design(embeddings, features, names, dim)
    if len(X) != len(y):
        raise ValueError(f"{len(X)} rows of features but {len(y)} labels")

    # Hundreds of small fits: BLAS threads gain nothing on matrices this size, and in a busy
    # worker their contention made training ten times slower.
    with threadpool_limits(limits=1):
        params = _fit(X, y, dim, seed)
        quality = _quality(X, y, dim, seed)
    return LearnedModel(
        feature_names=names,
        dim=dim,
        quality=quality,
        trained_on=len(y),
        mean=params.mean,
        scale=params.scale,
        coef=params.coef,
        intercept=params.intercept,
        platt_a=params.a,
        platt_b=params.b,
        C=params.C,
    )


def uncertainty(p: np.ndarray) -> np.ndarray:
    """1 at p=0.5, 0 at p in {0, 1}: sort descending to review the most uncertain first."""
    return 1.0 - np.abs(2.0 * np.asarray(p, dtype=np.float64) - 1.0)


def expected_calibration_error(p: np.ndarray, y: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |predicted - observed accept rate| over equal-width bins, weighted by bin size."""
    p, y = np.asarray(p, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if len(p) == 0:
        return 0.0
    which = np.minimum((p * bins).astype(int), bins - 1)  # p == 1.0 belongs to the last bin
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(p[mask].mean() - y[mask].mean())
    return float(total / len(p))


@dataclass(frozen=True)
class _Params:
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    a: float
    b: float
    C: float


def _design(
    embeddings: np.ndarray, features: Sequence[Mapping[str, float | None]], names: Sequence[str], dim: int
) -> np.ndarray:
    E = np.asarray(embeddings, dtype=np.float64)
    if E.ndim != 2 or E.shape[1] != dim:
        raise ValueError(f"embeddings must have shape (n, {dim}), got {E.shape}")
    if len(features) != len(E):
        raise ValueError(f"{len(E)} embeddings but {len(features)} rows of critic features")
    F = np.full((len(E), len(names)), FILL)
    missing = np.ones((len(E), len(names)))
    for i, row in enumerate(features):
        for j, name in enumerate(names):
            v = row.get(name)
            if v is not None and not math.isnan(v):
                F[i, j], missing[i, j] = float(v), 0.0
    return np.hstack([E, F, missing])


def _decision(p: _Params, X: np.ndarray) -> np.ndarray:
    return ((X - p.mean) / p.scale) @ p.coef + p.intercept


def _proba(p: _Params, X: np.ndarray) -> np.ndarray:
    return expit(p.a * _decision(p, X) + p.b)


def _lr(C: float) -> LogisticRegression:
    # lbfgs is deterministic; the cap is high because weak regularization on separable
    # data converges slowly, and a warning per retrain would only be noise.
    return LogisticRegression(C=C, class_weight="balanced", max_iter=5000)


def _folds(y: np.ndarray, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    # At most as many folds as the rarer outcome has rows, so every held-out fold has both.
    k = min(MAX_FOLDS, int(min(y.sum(), len(y) - y.sum())))
    return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(len(y)), y))


def _standardize(X: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    # The embedding is one signal spread over `dim` columns: scaled as a block (keeping its
    # geometry) to a total variance of 1, it weighs like one critic score under the one L2
    # penalty. Per-column scaling would let hundreds of noise columns drown a decisive
    # critic score; a large C still lets the embedding speak when the data says so.
    scale[:dim] = math.sqrt(float((scale[:dim] ** 2).sum()))
    scale[scale < 1e-12] = 1.0  # a constant column (e.g. a never-missing indicator) stays 0
    return mean, scale


def _fit_lr(
    X: np.ndarray, y: np.ndarray, dim: int, C: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    mean, scale = _standardize(X, dim)
    lr = _lr(C).fit((X - mean) / scale, y)
    return mean, scale, lr.coef_[0].astype(np.float64), float(lr.intercept_[0])


def _fit(X: np.ndarray, y: np.ndarray, dim: int, seed: int) -> _Params:
    """Choose C by the log loss of Platt-calibrated out-of-fold decisions, fit the sigmoid
    on those decisions (as CalibratedClassifierCV(ensemble=False) does), refit on all."""
    folds = _folds(y, seed)
    best: tuple[float, float, float, float] | None = None  # (loss, C, a, b)
    for C in C_GRID:
        oof = np.empty(len(y))
        for tr, te in folds:
            mean, scale, coef, intercept = _fit_lr(X[tr], y[tr], dim, C)
            oof[te] = ((X[te] - mean) / scale) @ coef + intercept
        a, b, loss = _platt(oof, y)
        if best is None or loss < best[0] - 1e-9:  # ties keep the stronger regularization
            best = (loss, C, a, b)
    assert best is not None
    _, C, a, b = best
    mean, scale, coef, intercept = _fit_lr(X, y, dim, C)
    return _Params(mean, scale, coef, intercept, a, b, C)


def _platt(f: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Platt (1999) sigmoid with his smoothed targets, which keep a and b finite when the
    decisions separate the outcomes perfectly. Returns a, b and the mean log loss."""
    pos, neg = float(y.sum()), float(len(y) - y.sum())
    t = np.where(y == 1, (pos + 1) / (pos + 2), 1 / (neg + 2))
    sd = float(f.std()) or 1.0  # optimize on a unit scale; decisions can be large

    def nll(ab: np.ndarray) -> tuple[float, np.ndarray]:
        z = ab[0] * (f / sd) + ab[1]
        loss = -(t * log_expit(z) + (1 - t) * log_expit(-z)).sum()
        r = expit(z) - t
        return float(loss), np.array([(r * f / sd).sum(), r.sum()])

    res = minimize(nll, np.array([1.0, math.log((pos + 1) / (neg + 1))]), jac=True, method="L-BFGS-B")
    a, b = float(res.x[0]) / sd, float(res.x[1])
    p = np.clip(expit(a * f + b), 1e-15, 1 - 1e-15)
    return a, b, float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def _quality(X: np.ndarray, y: np.ndarray, dim: int, seed: int) -> Quality:
    # Nested: each outer fold runs the whole fit (C choice and sigmoid included) without
    # its held-out rows, so these are honest out-of-fold probabilities.
    p = np.empty(len(y))
    for tr, te in _folds(y, seed + 1):
        p[te] = _proba(_fit(X[tr], y[tr], dim, seed), X[te])
    auc = float(roc_auc_score(y, p)) if 0 < y.sum() < len(y) else None
    brier = float(np.mean((p - y) ** 2))
    ece = expected_calibration_error(p, y)
    problems = []
    if len(y) < MIN_TRAIN:
        problems.append(f"only {len(y)} decisions (need {MIN_TRAIN})")
    if auc is None or auc < MIN_AUC:
        problems.append(f"cross-validated AUC {'n/a' if auc is None else f'{auc:.2f}'} is below {MIN_AUC}")
    if ece > MAX_ECE:
        problems.append(f"calibration error {ece:.3f} is above {MAX_ECE}")
    if problems:
        why = "not good enough: " + "; ".join(problems)
    else:
        why = f"good enough: cross-validated AUC {auc:.2f}, calibration error {ece:.3f} on {len(y)} decisions"
    return Quality(n=len(y), auc=auc, brier=brier, ece=ece, good_enough=not problems, why=why)
