"""Coverage of the real data: k-means clusters of the real (human) embeddings, then where the
synthetic data falls among them. Synthetic data loses the tails first, so the rarest real
clusters are watched on their own, and the clusters it over- and under-fills are named."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import jensenshannon

from workers.metrics.threads import limited

MAX_CLUSTERS = 50
FIT_SAMPLE = 50_000  # real rows k-means is fitted on; every row is then assigned
TAIL_MASS = 0.2  # the rarest real clusters holding together at most this share of the real data
COVERED = 0.25  # a cluster is covered when synthetic data puts >= this fraction of the real share there
UNDER, OVER = 0.5, 2.0  # synthetic share / real share past which a cluster is under- or over-filled
CHUNK = 65_536


def cluster_count(n: int) -> int:
    """About sqrt(n/2) clusters (a common rule of thumb), 2 to MAX_CLUSTERS."""
    return max(2, min(MAX_CLUSTERS, round(math.sqrt(n / 2)))) if n >= 4 else max(1, n)


@dataclass(frozen=True)
class Clusters:
    centroids: np.ndarray  # (k, d) float32
    counts: np.ndarray  # (k,) real rows per cluster
    representatives: np.ndarray  # (k,) index into the real rows of the one nearest each centroid


def fit(X: np.ndarray, k: int | None = None, seed: int = 0) -> Clusters:
    """k-means (scikit-learn) on the real embeddings; deterministic for a seed."""
    from sklearn.cluster import KMeans

    X = np.asarray(X, dtype=np.float32)
    if len(X) == 0:
        raise ValueError("no real embeddings to cluster")
    k = min(k or cluster_count(len(X)), len(X))
    rng = np.random.default_rng(seed)
    train = X[rng.choice(len(X), FIT_SAMPLE, replace=False)] if len(X) > FIT_SAMPLE else X
    with limited():
        model = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(train)
    centroids = model.cluster_centers_.astype(np.float32)
    labels = assign(X, centroids)
    reps = np.zeros(k, dtype=np.int64)
    for c in range(k):
        members = np.flatnonzero(labels == c)
        if len(members):
            d = ((X[members] - centroids[c]) ** 2).sum(axis=1)
            reps[c] = members[int(d.argmin())]
    return Clusters(centroids, np.bincount(labels, minlength=k), reps)


def assign(X: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Nearest centroid (euclidean) of each row: argmax of x·c - |c|²/2."""
    X = np.asarray(X, dtype=np.float32)
    half = 0.5 * (centroids.astype(np.float32) ** 2).sum(axis=1)
    out = np.empty(len(X), dtype=np.int64)
    with limited():
        for i in range(0, len(X), CHUNK):
            out[i : i + CHUNK] = (X[i : i + CHUNK] @ centroids.T - half).argmax(axis=1)
    return out


def histogram(X: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    return np.bincount(assign(X, centroids), minlength=len(centroids))


@dataclass(frozen=True)
class Coverage:
    covered: float  # share of real clusters the synthetic data covers
    tail_coverage: float  # the same over the rarest real clusters only
    jsd: float  # Jensen-Shannon divergence of the two cluster histograms (base 2: 0..1)
    tail: list[int]  # the rarest real clusters
    under: list[tuple[int, float]]  # (cluster, synthetic share / real share), emptiest first
    over: list[tuple[int, float]]  # fullest first


def tail_clusters(real_counts: np.ndarray, mass: float = TAIL_MASS) -> list[int]:
    """The rarest non-empty real clusters whose rows add up to at most `mass` of the real data
    (at least the rarest one)."""
    real = np.asarray(real_counts, dtype=np.float64)
    order = [int(c) for c in np.argsort(real, kind="stable") if real[c] > 0]
    total, out, acc = real.sum(), [], 0.0
    for c in order:
        acc += real[c]
        if out and acc > mass * total:
            break
        out.append(c)
    return out


def compare(real_counts: np.ndarray, synthetic_counts: np.ndarray) -> Coverage:
    real = np.asarray(real_counts, dtype=np.float64)
    synth = np.asarray(synthetic_counts, dtype=np.float64)
    if real.shape != synth.shape:
        raise ValueError(f"histograms differ in length: {real.shape} vs {synth.shape}")
    live = real > 0
    if not live.any() or synth.sum() == 0:
        return Coverage(0.0, 0.0, 1.0 if live.any() else 0.0, tail_clusters(real), [], [])
    p, q = real / real.sum(), synth / synth.sum()
    ratio = np.divide(q, p, out=np.zeros_like(q), where=live)
    covered = live & (synth > 0) & (ratio >= COVERED)
    tail = tail_clusters(real)
    under = sorted(((int(c), float(ratio[c])) for c in np.flatnonzero(live & (ratio < UNDER))), key=_second)
    over = sorted(
        ((int(c), float(ratio[c])) for c in np.flatnonzero(live & (ratio > OVER))), key=_second, reverse=True
    )
    return Coverage(
        covered=float(covered.sum() / live.sum()),
        tail_coverage=float(np.mean([covered[c] for c in tail])),
        jsd=float(jensenshannon(p, q, base=2) ** 2),
        tail=tail,
        under=under,
        over=over,
    )


def _second(pair: tuple[int, float]) -> float:
    return pair[1]
