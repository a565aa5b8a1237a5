"""Near-duplicate benchmarks: rows in CONTRACT's shape {bench, backend, model, device, metric, value,
baseline, ratio, params}, ratio = ours / the baseline named in params["baseline"].

  (a) workers.critics.minhash.signatures, docs/s, over datasketch MinHash.bulk on the same texts,
      the same word-bigram shingles and 128 permutations (both from raw text: tokenizing included).
  (b) rensa's RMinHash (its bulk digest matrix) on the same texts and shingles, over the same
      datasketch baseline, to say which is faster.
  (c) band-key lookup, median ms per query of one text (its band keys, then the index probed for
      each), in an in-memory index of 100,000 and 1,000,000 texts: the 2,000 real texts plus
      random signatures. The 100,000 row is compared with datasketch MinHashLSH holding the same
      signatures with the same bands; the 1,000,000 row with the 100,000 one (how lookups scale).

Texts: 2,000 of 150-300 words, sentences of the Debian FAQ rows in tests/data recombined with a
fixed seed, one word in six then replaced by another word of the corpus so the bigrams vary as in
real answers (recombined sentences alone repeat bigrams far more than real text)."""

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
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workers.critics import minhash  # noqa: E402
from workers.critics.text import words  # noqa: E402

DATA = ROOT / "tests" / "data" / "critics_near_dup.jsonl"
TEXTS = 2000
SEED = 7
REPEATS = 5
QUERIES = 2000
INDEX_SIZES = (100_000, 1_000_000)


def device() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"cpu: {os.cpu_count()} cores, {name}, numpy {np.__version__}"


def row(backend: str, metric: str, value: float, baseline: float, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "bench": "critics_minhash",
        "backend": backend,
        "model": f"minhash {minhash.VERSION}, {minhash.NUM_PERM} permutations",
        "device": device(),
        "metric": metric,
        "value": round(value, 3),
        "baseline": round(baseline, 3),
        "ratio": round(value / baseline, 4),
        "params": params,
    }


def texts() -> list[str]:
    rng = random.Random(SEED)  # noqa: S311 - a fixed corpus, not a secret
    rows = [json.loads(line)["response"] for line in DATA.open()]
    sentences = [s for r in rows for s in re.split(r"(?<=[.!?])\s+|\n\n+", r) if len(s.split()) >= 4]
    vocab = sorted({w for r in rows for w in words(r)})
    out = []
    for _ in range(TEXTS):
        target, picked = rng.randint(150, 300), []
        while sum(len(s.split()) for s in picked) < target:
            picked.append(rng.choice(sentences))
        toks = " ".join(picked).split(" ")
        out.append(" ".join(rng.choice(vocab) if rng.random() < 1 / 6 else t for t in toks))
    return out


def bigrams(text: str) -> list[str]:
    ws = words(text)
    return [f"{a} {b}" for a, b in pairwise(ws)] or ws


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


def throughput(corpus: list[str]) -> list[dict[str, Any]]:
    from datasketch import MinHash
    from rensa import RMinHash

    def datasketch_bulk() -> object:
        return MinHash.bulk(
            [[s.encode("utf-8") for s in bigrams(t)] for t in corpus], num_perm=minhash.NUM_PERM
        )

    def rensa_bulk() -> object:
        return RMinHash.digest_matrix_from_token_sets(
            [bigrams(t) for t in corpus], minhash.NUM_PERM, minhash.SEED
        )

    t = timed(
        {"ours": lambda: minhash.signatures(corpus), "datasketch": datasketch_bulk, "rensa": rensa_bulk}
    )
    n = len(corpus)
    # The cores alone, shingles already made (our signatures() always starts from text).
    encoded = [[s.encode("utf-8") for s in bigrams(x)] for x in corpus]
    tokens = [bigrams(x) for x in corpus]
    ready = timed(
        {
            "datasketch": lambda: MinHash.bulk(encoded, num_perm=minhash.NUM_PERM),
            "rensa": lambda: RMinHash.digest_matrix_from_token_sets(tokens, minhash.NUM_PERM, minhash.SEED),
        }
    )
    start = time.perf_counter()
    for doc in encoded[:200]:  # datasketch one text at a time, one update per shingle
        m = MinHash(num_perm=minhash.NUM_PERM)
        for s in doc:
            m.update(s)
    per_doc = 200 / (time.perf_counter() - start)
    hv, _ = minhash._shingle_hashes(corpus)
    params = {
        "texts": n,
        "words_per_text": round(statistics.mean(len(words(x)) for x in corpus), 1),
        "shingles": "word bigrams of the normalized text",
        "distinct_shingles_share": round(len(np.unique(hv)) / len(hv), 3),
        "num_perm": minhash.NUM_PERM,
        "repeats": REPEATS,
        "datasketch_per_doc_update_docs_per_s": round(per_doc, 1),
        "datasketch_bulk_shingles_ready_docs_per_s": round(n / ready["datasketch"], 1),
        "rensa_shingles_ready_docs_per_s": round(n / ready["rensa"], 1),
        "baseline": "datasketch MinHash.bulk (default affine32 scheme), same texts and shingles, "
        "tokenizing included",
    }
    base = n / t["datasketch"]
    return [
        row("numpy", "signatures_docs_per_s", n / t["ours"], base, params),
        row(
            "rensa",
            "signatures_docs_per_s",
            n / t["rensa"],
            base,
            {**params, "api": "RMinHash.digest_matrix_from_token_sets"},
        ),
    ]


class HashIndex:
    """An in-memory hash index of band keys: the keys sorted as unsigned, bucketed by their top
    bits (about 4 keys a bucket), so a probe reads one bucket per band instead of a binary search.
    A Python dict of 32 million int keys (1,000,000 texts) took 33 s and 5.5 GB to build on the
    2-core bench machine; this takes a few seconds and 0.6 GB."""

    def __init__(self, keys: np.ndarray) -> None:
        flat = keys.ravel().view(np.uint64)
        order = np.argsort(flat)
        self.keys = flat[order]
        self.texts = (order // keys.shape[1]).astype(np.int32)
        self.shift = np.uint64(64 - max(1, int(np.log2(max(len(flat) // 4, 2)))))
        counts = np.bincount(
            (self.keys >> self.shift).astype(np.int64), minlength=1 << (64 - int(self.shift))
        )
        self.offsets = np.concatenate([[0], np.cumsum(counts)])
        self.width = np.arange(int(counts.max()))

    def probe(self, sig: np.ndarray) -> set[int]:
        q = minhash.band_keys(sig[None])[0].view(np.uint64)
        bucket = (q >> self.shift).astype(np.int64)
        lo, hi = self.offsets[bucket], self.offsets[bucket + 1]
        at = lo[:, None] + self.width
        inside = at < hi[:, None]
        at = np.minimum(at, len(self.keys) - 1)
        return set(self.texts[at[inside & (self.keys[at] == q[:, None])]].tolist())


def lookups(corpus: list[str]) -> list[dict[str, Any]]:
    real = minhash.signatures(corpus)
    rng = np.random.default_rng(SEED)
    queries = real[rng.permutation(len(real))[:QUERIES]]
    parts = [minhash.band_keys(real)]
    size, out, latency = len(real), [], {}
    for target in INDEX_SIZES:
        while size < target:  # random signatures stand in for the rest of the corpus
            n = min(100_000, target - size)
            parts.append(minhash.band_keys(rng.integers(0, 1 << 32, (n, minhash.NUM_PERM), dtype=np.uint32)))
            size += n
        idx = HashIndex(np.vstack(parts))
        assert all(i in idx.probe(real[i]) for i in range(10))
        times = []
        for sig in queries:
            t = time.perf_counter()
            idx.probe(sig)
            times.append(time.perf_counter() - t)
        latency[target] = (statistics.median(times) * 1000, round(float(np.percentile(times, 99)) * 1000, 4))
        del idx
    base_ms, base_p99 = datasketch_lookup(real, queries, INDEX_SIZES[0])
    for target in INDEX_SIZES:
        med, p99 = latency[target]
        params = {
            "indexed_texts": target,
            "real_texts": len(real),
            "queries": len(queries),
            "bands": minhash.BANDS,
            "rows": minhash.ROWS,
            "index": "in-memory hash index: sorted band keys bucketed by their top bits",
            "p99_ms": p99,
        }
        if target == INDEX_SIZES[0]:
            params |= {
                "baseline": "datasketch MinHashLSH query, same signatures and bands",
                "baseline_p99_ms": base_p99,
            }
            out.append(row("numpy", "lookup_ms_per_query", med, base_ms, params))
        else:
            params["baseline"] = f"the same lookup at {INDEX_SIZES[0]:,} indexed texts"
            out.append(row("numpy", "lookup_ms_per_query", med, latency[INDEX_SIZES[0]][0], params))
    return out


def datasketch_lookup(real: np.ndarray, queries: np.ndarray, size: int) -> tuple[float, float]:
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    lsh = MinHashLSH(num_perm=minhash.NUM_PERM, params=(minhash.BANDS, minhash.ROWS))
    rng = np.random.default_rng(SEED)
    sigs = np.vstack([real, rng.integers(0, 1 << 32, (size - len(real), minhash.NUM_PERM), dtype=np.uint32)])
    with lsh.insertion_session() as session:
        for i, s in enumerate(sigs):
            session.insert(
                i, LeanMinHash(seed=minhash.SEED, hashvalues=s, scheme="affine32"), check_duplication=False
            )
    times = []
    for s in queries:
        m = MinHash(num_perm=minhash.NUM_PERM, seed=minhash.SEED, hashvalues=s, scheme="affine32")
        t = time.perf_counter()
        lsh.query(m)
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000, round(float(np.percentile(times, 99)) * 1000, 4)


def rows() -> list[dict[str, Any]]:
    corpus = texts()
    return throughput(corpus) + lookups(corpus)


if __name__ == "__main__":
    print(json.dumps(rows(), indent=1))
