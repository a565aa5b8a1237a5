"""Greedy farthest-point selection (the k-center greedy of Gonzalez 1985): each pick is the
item farthest, in cosine distance, from everything picked before it and from the rows
already kept. A capped mixture chosen this way keeps the tails (rare topics, unusual
phrasings) that a random or most-typical choice drops. The order is a sequence: any prefix
is the greedy choice of that size, so a smaller cap keeps a subset of a larger one."""

from __future__ import annotations

import numpy as np

BLOCK = 2048  # rows of a similarity block: bounds the memory of seeding by the kept rows


def _unit(X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms == 0, 1, norms)


def farthest_point_order(X: np.ndarray, k: int, kept: np.ndarray | None = None) -> list[int]:
    """Indices of k rows of X in greedy farthest-point order. Without `kept`, the first
    pick is row 0 (the caller's best-ranked); ties go to the lower index, so the result
    is deterministic for a given input order. O(len(X) * (k + len(kept))) dot products."""
    m = len(X)
    k = min(k, m)
    if k <= 0:
        return []
    U = _unit(X)
    # Distance of every row to its nearest chosen (or kept) row; -inf marks a chosen row.
    nearest = np.full(m, np.inf, dtype=np.float32)
    if kept is not None and len(kept):
        K = _unit(kept)
        for i in range(0, len(K), BLOCK):
            np.minimum(nearest, 1 - (U @ K[i : i + BLOCK].T).max(axis=1), out=nearest)
    order = []
    pick = int(np.argmax(nearest)) if np.isfinite(nearest).any() else 0
    for _ in range(k):
        order.append(pick)
        np.minimum(nearest, 1 - U @ U[pick], out=nearest)
        nearest[pick] = -np.inf
        if len(order) < k:
            pick = int(np.argmax(nearest))
    return order
