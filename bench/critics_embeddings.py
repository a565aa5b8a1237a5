"""Embedding benchmarks: rows in CONTRACT's shape {bench, backend, model, device, metric, value,
baseline, ratio, params}, ratio = ours / the baseline named in params["baseline"].

  (a) workers.critics.embeddings Encoder.encode, docs/s, over a raw sentence-transformers
      `encode(texts, batch_size=64, normalize_embeddings=True)` on the same model object and the
      same 512 texts (warmed up, run in turns): what the wrapper costs.
  (b) VectorIndex.nearest (exact, numpy), ms per query in a batch of 64 with k=5 as the
      semantic critic asks, over usearch HNSW (i8, its fastest build and search here) holding
      the same vectors, at 10,000 and 100,000 rows; at 1,000,000 rows over the same index at
      100,000 (how it scales; usearch took 499 s to build 1M rows here, see VectorIndex). Lower is
      better: ratio < 1 means faster than the baseline.

Texts: the first 512 paragraphs (8+ words, ~34 on average) of the python_faq demo answers, then
tests/data/critics_embeddings.jsonl: whole answers encode at ~7-12 docs/s on 2 busy cores, too slow for a
3-minute bench (batch 64 against 32: 30 vs 21 docs/s on paragraphs, 11 vs 12 on answers).
Index rows: the MiniLM vectors of those texts, the rest real-ish filler (a real vector plus
noise, cosine ~0.65 to it, so rows crowd around real ones as answers do); queries: 64 of the
texts reworded (one word in seven swapped for another word of the same text), encoded, whose
exact nearest row is their source."""

from __future__ import annotations

import gc
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from workers.critics.embeddings import DIM, MODEL_NAME, VERSION, VectorIndex, get_encoder  # noqa: E402

DATA = [
    ROOT / "curation" / "demo" / "data" / "python_faq.jsonl",
    ROOT / "tests" / "data" / "critics_embeddings.jsonl",
]
TEXTS = 512
BATCH = 64
SEED = 7
REPEATS = 2
QUERIES = 64
K = 5  # the semantic critic's neighbours per query
INDEX_SIZES = (10_000, 100_000, 1_000_000)
USEARCH_SIZES = (10_000, 100_000)


def device() -> str:
    import torch

    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"cpu: {os.cpu_count()} cores, {name}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"numpy {np.__version__}"
    )


def row(backend: str, metric: str, value: float, baseline: float, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "bench": "critics_embeddings",
        "backend": backend,
        "model": f"{MODEL_NAME} (embeddings {VERSION})",
        "device": device(),
        "metric": metric,
        "value": round(value, 3),
        "baseline": round(baseline, 3),
        "ratio": round(value / baseline, 4),
        "params": params,
    }


def texts() -> list[str]:
    seen: dict[str, None] = {}
    for path in DATA:
        for line in path.open():
            for p in re.split(r"\n\n+", json.loads(line).get("response", "")):
                if len(p.split()) >= 8:
                    seen[p.strip()] = None
    out = list(seen)[:TEXTS]
    assert len(out) == TEXTS, f"only {len(out)} paragraphs in {[p.name for p in DATA]}"
    return out


def reword(text: str, rng: random.Random) -> str:
    w = text.split()
    return " ".join(rng.choice(w) if (i + 1) % 7 == 0 else x for i, x in enumerate(w))


def timed(fns: dict[str, Callable[[], object]]) -> dict[str, float]:
    """Median seconds of each, run in turns so a busy machine weighs on all alike."""
    runs: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(REPEATS):
        for name, fn in fns.items():
            gc.collect()
            t = time.perf_counter()
            fn()
            runs[name].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in runs.items()}


def throughput(corpus: list[str]) -> tuple[list[dict[str, Any]], np.ndarray]:
    encoder = get_encoder()
    model = encoder.model
    warm = corpus[:32]
    encoder.encode(warm)
    model.encode(warm, normalize_embeddings=True)
    vectors: list[np.ndarray] = []
    t = timed(
        {
            "ours": lambda: vectors.append(encoder.encode(corpus, batch_size=BATCH)),
            "raw": lambda: model.encode(corpus, batch_size=BATCH, normalize_embeddings=True),
        }
    )
    n = len(corpus)
    params = {
        "texts": n,
        "words_per_text": round(statistics.mean(len(x.split()) for x in corpus), 1),
        "batch_size": BATCH,
        "max_seq_length": model.max_seq_length,
        "repeats": REPEATS,
        "baseline": "raw SentenceTransformer.encode(texts, batch_size=64, normalize_embeddings=True), "
        "same model object and texts",
    }
    out = row("sentence-transformers", "encode_docs_per_s", n / t["ours"], n / t["raw"], params)
    return [out], vectors[-1]


def filler(real: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    out = real[rng.integers(0, len(real), n)] + 0.06 * rng.standard_normal((n, DIM), dtype=np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def ms_per_query(search: Callable[[np.ndarray], object], queries: np.ndarray) -> tuple[float, float]:
    """(ms per query in one batch of all queries, median ms of one query alone), best of REPEATS."""
    search(queries[:1])
    batch = min(_seconds(lambda: search(queries)) for _ in range(REPEATS)) / len(queries)
    alone = statistics.median(_seconds(lambda q=q: search(q[None])) for q in queries[:16])
    return batch * 1000, alone * 1000


def _seconds(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def lookups(corpus: list[str], real: np.ndarray) -> list[dict[str, Any]]:
    from usearch.index import Index

    rng = random.Random(SEED)  # noqa: S311 - a fixed corpus, not a secret
    picks = rng.sample(range(len(corpus)), QUERIES)
    queries = get_encoder().encode([reword(corpus[i], rng) for i in picks])
    sources = [f"t{i}" for i in picks]
    np_rng = np.random.default_rng(SEED)
    index, added = VectorIndex(), 0
    index.add([f"t{i}" for i in range(len(real))], real)
    out, latency = [], {}
    for size in INDEX_SIZES:
        start = time.perf_counter()
        while len(index) < size:  # filler in chunks, as rows arrive
            n = min(100_000, size - len(index))
            index.add([f"f{added + i}" for i in range(n)], filler(real, n, np_rng))
            added += n
        build = time.perf_counter() - start
        exact = index.nearest(queries, k=K)
        assert [r[0].ref for r in exact] == sources, "a reworded text's nearest row is not its source"
        batch, alone = ms_per_query(lambda q: index.nearest(q, k=K), queries)
        latency[size] = batch
        params: dict[str, Any] = {
            "rows": size,
            "queries": QUERIES,
            "k": K,
            "dim": DIM,
            "ms_one_query_alone": round(alone, 3),
            "build_s": round(build, 2),
            "index": "exact: numpy float32 matrix product in blocks, argmax per neighbour",
            "lower_is_better": True,
        }
        if size in USEARCH_SIZES:
            data = index._data[: len(index)]  # the same vectors, in the same order
            hnsw = Index(ndim=DIM, metric="cos", dtype="i8")
            start = time.perf_counter()
            hnsw.add(np.arange(len(data)), data, threads=2)
            us_build = time.perf_counter() - start
            found = hnsw.search(queries, K, threads=2).keys
            agree = np.mean([int(found[i, 0]) == int(sources[i][1:]) for i in range(QUERIES)])
            us_batch, us_alone = ms_per_query(lambda q, h=hnsw: h.search(q, K, threads=2), queries)
            params |= {
                "baseline": "usearch HNSW (cos, i8, connectivity 16, threads 2), same vectors and queries",
                "baseline_ms_one_query_alone": round(us_alone, 3),
                "baseline_build_s": round(us_build, 2),
                "baseline_top1_is_exact": round(float(agree), 3),
            }
            out.append(row("numpy", "nearest_ms_per_query", batch, us_batch, params))
            del hnsw
        else:
            params["baseline"] = f"the same index at {USEARCH_SIZES[-1]:,} rows"
            out.append(row("numpy", "nearest_ms_per_query", batch, latency[USEARCH_SIZES[-1]], params))
        print(f"  {size:>9,} rows: {batch:.3f} ms/query in a batch, {alone:.2f} alone", file=sys.stderr)
    return out


def rows() -> list[dict[str, Any]]:
    corpus = texts()
    encode_rows, real = throughput(corpus)
    return encode_rows + lookups(corpus, real)


if __name__ == "__main__":
    print(json.dumps(rows(), indent=1))
