"""Semantic diversity on unit-length sentence embeddings (MiniLM, the vectors the critics store).

The Vendi score (Friedman & Dieng 2023) is exp of the entropy of the eigenvalues of
K = X Xᵀ / n. K's non-zero eigenvalues are those of the d x d matrix Xᵀ X / n, so the score
costs O(n d²) time and O(d²) memory instead of O(n² d) and O(n²): 384 x 384 whatever n is,
and Xᵀ X is a sum over rows, so a running campaign keeps it as a running sum (Moments)."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from workers.metrics.threads import limited

CHUNK = 65_536  # rows multiplied at once: float32 products, float64 sums
EIG_FLOOR = 1e-12


def _unit(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1)


def entropy_exp(eigenvalues: np.ndarray) -> float:
    w = np.asarray(eigenvalues, dtype=np.float64)
    w = w[w > EIG_FLOOR]
    if not len(w):
        return 0.0
    w = w / w.sum()  # exactly a distribution: rounding in the sums must not bias the entropy
    return float(np.exp(-(w * np.log(w)).sum()))


def vendi_gram(X: np.ndarray) -> float:
    """The definition itself, on the n x n kernel: for tests and small n only."""
    X = _unit(X).astype(np.float64)
    if not len(X):
        return 0.0
    with limited():
        return entropy_exp(np.linalg.eigvalsh(X @ X.T / len(X)))


@dataclass
class Moments:
    """Running sums of unit vectors: n, Σx and Σ xxᵀ. Enough for the Vendi score and the
    mean pairwise cosine distance of everything added so far; adding is exact and
    order-free, so batches can land in any order and two states merge by addition."""

    dim: int
    n: int = 0
    total: np.ndarray = field(default=None)  # type: ignore[assignment]
    gram: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.total is None:
            self.total = np.zeros(self.dim, dtype=np.float64)
        if self.gram is None:
            self.gram = np.zeros((self.dim, self.dim), dtype=np.float64)

    def add(self, X: np.ndarray) -> Moments:
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {X.shape}")
        with limited():
            for i in range(0, len(X), CHUNK):
                part = _unit(X[i : i + CHUNK])
                self.gram += (part.T @ part).astype(np.float64)
                self.total += part.sum(axis=0, dtype=np.float64)
                self.n += len(part)
        return self

    def merge(self, other: Moments) -> Moments:
        self.n += other.n
        self.total += other.total
        self.gram += other.gram
        return self

    def vendi(self) -> float:
        if not self.n:
            return 0.0
        with limited():
            return entropy_exp(np.linalg.eigvalsh(self.gram / self.n))

    def mean_distance(self) -> float:
        """Mean cosine distance over distinct pairs: Σ_{i≠j} xᵢ·xⱼ = |Σx|² - n for unit x."""
        if self.n < 2:
            return 0.0
        similarity = (float(self.total @ self.total) - self.n) / (self.n * (self.n - 1))
        return 1.0 - similarity

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, n=np.int64(self.n), total=self.total, gram=self.gram)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Moments:
        z = np.load(io.BytesIO(data))
        return cls(dim=len(z["total"]), n=int(z["n"]), total=z["total"].copy(), gram=z["gram"].copy())


def vendi(X: np.ndarray) -> float:
    """The Vendi score of the rows of X (normalized here), by the d x d dual form."""
    X = np.asarray(X)
    return Moments(dim=X.shape[1]).add(X).vendi() if len(X) else 0.0


def mean_distance(X: np.ndarray) -> float:
    """Mean pairwise cosine distance of the rows of X (0: all identical)."""
    X = np.asarray(X)
    return Moments(dim=X.shape[1]).add(X).mean_distance() if len(X) else 0.0
