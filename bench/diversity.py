"""Diversity metric benchmarks (`make bench`): writes bench/results/diversity.json as CONTRACT's rows
{bench, backend, model, device, metric, value, baseline, ratio, params}, ratio = ours / the
baseline named in params["baseline"]. Every row is a time (s) or a peak memory (MB), so lower is
better (params["lower_is_better"]): ratio < 1 means faster or smaller than the baseline, and
params["speedup"] = baseline / ours.

  - Vendi (semantic.vendi, the d x d dual form) at 5,000 rows against the reference
    vendi-score package (score_X, the n x n kernel, and score_dual), and at 100,000 and
    1,000,000 rows against score_dual (the issue's goal: 1M in under 10 s);
  - mean cosine distance against the same formula in one numpy expression (no Gram matrix);
  - Moments fed in batches of 10,000 as a running campaign does (state read from bytes, batch
    added, state written back) against one Moments over the whole array;
  - coverage: k-means fit on 100,000 real rows (coverage.fit: 50,000 sampled) against scikit-learn
    KMeans on all of them; histogram + compare against scikit-learn's pairwise_distances_argmin;
  - lexical and semantic figures of 100,000 texts streamed through summary.Summary in batches of
    10,000 against the one-shot functions (lexical.lexical, semantic.vendi, ...) on the same data.

Vectors: 384-d float32 unit vectors around 200 random unit centres (Gaussian noise, sigma 0.05 a
dimension), cluster shares Zipf-like for the synthetic set and uniform for the real one, fixed seeds.
Texts: 60-100 words, sentences of the answers in tests/data/*.jsonl drawn at random, one word in
eight replaced by a random word of their vocabulary, fixed seed.

Memory: each case runs once in a fresh subprocess (this script with --memory), inputs loaded first
from .npy or text files; the figure is tracemalloc's peak where the case is numpy work (numpy's
buffers are traced), else the growth of the peak resident set over the run (VmHWM of
/proc/self/status, reset through /proc/self/clear_refs once the inputs are loaded), which params
also give for the traced ones. Not ru_maxrss: Linux carries it over from the parent through fork
and exec, so a child of this (large) process starts with the parent's peak and shows no growth.
Time: best of 3 (2 for score_X), ours and the baseline in turns in one more subprocess (--time);
the slow cases (k-means fit, lexical) one run, the memory run's. The load average is recorded, as
the machine's 2 cores may be shared."""

from __future__ import annotations

import gc
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

THREADS = 2
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, str(THREADS))

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "diversity.json"
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from workers.metrics import coverage, lexical, semantic, summary  # noqa: E402

DIM = 384
CENTRES = 200
NOISE = 0.05
SEED = 20261202
SIZES = (100_000, 1_000_000)
SMALL = 5_000  # rows for the n x n reference
REAL = 100_000
TEXTS = 100_000
BATCH = 10_000
GOAL_S = 10.0  # the goal for Vendi on 1M rows
DATA = ROOT / "tests" / "data"


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


def blas() -> str:
    from threadpoolctl import threadpool_info

    libs = [i for i in threadpool_info() if i["user_api"] == "blas" and "numpy" in i["filepath"]]
    if not libs:
        return "?"
    return f"{libs[0]['internal_api']} {libs[0]['version']}, {libs[0]['num_threads']} threads"


# Inputs, written once by the parent -------------------------------------------------------------


def vectors(rng: np.random.Generator, centres: np.ndarray, n: int, shares: np.ndarray | None) -> np.ndarray:
    out = np.empty((n, DIM), dtype=np.float32)
    for i in range(0, n, 100_000):
        m = min(100_000, n - i)
        part = centres[rng.choice(CENTRES, m, p=shares)]
        part += NOISE * rng.standard_normal((m, DIM), dtype=np.float32)
        part /= np.linalg.norm(part, axis=1, keepdims=True)
        out[i : i + m] = part
    return out


def texts(n: int) -> list[str]:
    rows = [json.loads(line)["response"] for f in sorted(DATA.glob("*.jsonl")) for line in f.open()]
    sentences = [s.split() for r in rows for s in re.split(r"(?<=[.!?])\s+|\n+", r) if len(s.split()) >= 4]
    vocab = sorted({w for s in sentences for w in s})
    rng = random.Random(SEED)  # noqa: S311 - reproducible test texts, not secrets
    out = []
    for _ in range(n):
        target, picked = rng.randint(60, 100), []
        while len(picked) < target:
            picked += rng.choice(sentences)
        out.append(" ".join(rng.choice(vocab) if rng.random() < 1 / 8 else w for w in picked[:target]))
    return out


def write_inputs(tmp: Path) -> dict[str, Any]:
    rng = np.random.default_rng(SEED)
    centres = rng.standard_normal((CENTRES, DIM), dtype=np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    zipf = 1 / np.arange(1, CENTRES + 1) ** 1.1
    X = vectors(rng, centres, max(SIZES), zipf / zipf.sum())
    for n in (SMALL, *SIZES):
        np.save(tmp / f"x{n}.npy", X[:n])
    del X
    np.save(tmp / "real.npy", vectors(rng, centres, REAL, None))
    corpus = texts(TEXTS)
    (tmp / "texts.txt").write_text("\n".join(corpus) + "\n", encoding="utf-8")
    return {
        "texts": TEXTS,
        "words_per_text": round(sum(len(t.split()) for t in corpus) / len(corpus), 1),
        "bytes_per_text": round(sum(len(t.encode()) for t in corpus) / len(corpus), 1),
    }


# Cases, each run in its own process ------------------------------------------------------------


def _x(tmp: Path, n: int) -> np.ndarray:
    return np.load(tmp / f"x{n}.npy")


def _clusters(tmp: Path) -> tuple[np.ndarray, np.ndarray]:
    return np.load(tmp / "centroids.npy"), np.load(tmp / "counts.npy")


def _texts(tmp: Path, n: int) -> list[str]:
    with (tmp / "texts.txt").open(encoding="utf-8") as f:
        return [line.rstrip("\n") for line, _ in zip(f, range(n), strict=False)]


def case_vendi(tmp: Path, n: int) -> Callable[[], Any]:
    X = _x(tmp, n)
    return lambda: semantic.vendi(X)


def case_vendi_dual(tmp: Path, n: int) -> Callable[[], Any]:
    from vendi_score import vendi

    X = _x(tmp, n)
    return lambda: float(vendi.score_dual(X))


def case_vendi_x(tmp: Path, n: int) -> Callable[[], Any]:
    from vendi_score import vendi

    X = _x(tmp, n)
    return lambda: float(vendi.score_X(X))


def case_mean_distance(tmp: Path, n: int) -> Callable[[], Any]:
    X = _x(tmp, n)
    return lambda: semantic.mean_distance(X)


def case_mean_numpy(tmp: Path, n: int) -> Callable[[], Any]:
    X = _x(tmp, n)

    def run() -> float:
        s = (X / np.linalg.norm(X, axis=1, keepdims=True)).sum(axis=0, dtype=np.float64)
        return 1.0 - (float(s @ s) - n) / (n * (n - 1))

    return run


def case_moments_batches(tmp: Path, n: int) -> Callable[[], Any]:
    X = _x(tmp, n)

    def run() -> tuple[float, float]:
        state = semantic.Moments(DIM).to_bytes()
        for i in range(0, n, BATCH):  # as services.py does per scored batch
            state = semantic.Moments.from_bytes(state).add(X[i : i + BATCH]).to_bytes()
        m = semantic.Moments.from_bytes(state)
        return m.vendi(), m.mean_distance()

    return run


def case_moments_whole(tmp: Path, n: int) -> Callable[[], Any]:
    X = _x(tmp, n)

    def run() -> tuple[float, float]:
        m = semantic.Moments(DIM).add(X)
        return m.vendi(), m.mean_distance()

    return run


def case_fit(tmp: Path, n: int) -> Callable[[], Any]:
    real = np.load(tmp / "real.npy")

    def run() -> int:
        clusters = coverage.fit(real, seed=0)
        np.save(tmp / "centroids.npy", clusters.centroids)
        np.save(tmp / "counts.npy", clusters.counts)
        return len(clusters.centroids)

    return run


def case_fit_sklearn(tmp: Path, n: int) -> Callable[[], Any]:
    from sklearn.cluster import KMeans

    real = np.load(tmp / "real.npy")
    k = coverage.cluster_count(len(real))
    return lambda: float(KMeans(n_clusters=k, n_init=3, random_state=0).fit(real).inertia_)


def case_coverage(tmp: Path, n: int) -> Callable[[], Any]:
    X, (centroids, counts) = _x(tmp, n), _clusters(tmp)

    def run() -> dict[str, Any]:
        hist = coverage.histogram(X, centroids)
        c = coverage.compare(counts, hist)
        return {"hist": hist.tolist(), "covered": c.covered, "tail_coverage": c.tail_coverage, "jsd": c.jsd}

    return run


def case_coverage_sklearn(tmp: Path, n: int) -> Callable[[], Any]:
    from sklearn.metrics import pairwise_distances_argmin

    X, (centroids, _) = _x(tmp, n), _clusters(tmp)
    return lambda: np.bincount(pairwise_distances_argmin(X, centroids), minlength=len(centroids)).tolist()


def case_summary(tmp: Path, n: int) -> Callable[[], Any]:
    X, corpus, (centroids, counts) = _x(tmp, n), _texts(tmp, n), _clusters(tmp)

    def run() -> dict[str, Any]:
        s = summary.Summary(DIM, centroids, counts)
        for i in range(0, n, BATCH):
            s.add(corpus[i : i + BATCH], X[i : i + BATCH])
        return s.result()

    return run


def case_oneshot(tmp: Path, n: int) -> Callable[[], Any]:
    X, corpus, (centroids, counts) = _x(tmp, n), _texts(tmp, n), _clusters(tmp)

    def run() -> dict[str, Any]:
        out: dict[str, Any] = {"n": n, **lexical.lexical(corpus)}
        out.update(vendi=semantic.vendi(X), mean_distance=semantic.mean_distance(X))
        c = coverage.compare(counts, coverage.histogram(X, centroids))
        out.update(coverage=c.covered, tail_coverage=c.tail_coverage, jsd=c.jsd)
        return out

    return run


CASES: dict[str, Callable[[Path, int], Callable[[], Any]]] = {
    f.__name__.removeprefix("case_"): f
    for f in (
        case_vendi,
        case_vendi_dual,
        case_vendi_x,
        case_mean_distance,
        case_mean_numpy,
        case_moments_batches,
        case_moments_whole,
        case_fit,
        case_fit_sklearn,
        case_coverage,
        case_coverage_sklearn,
        case_summary,
        case_oneshot,
    )
}


def _peak_rss_mb(reset: bool = False) -> float:
    """The process's peak resident set (VmHWM), reset to the current one first if asked."""
    if reset:
        Path("/proc/self/clear_refs").write_text("5")
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status")


def child_time(names: list[str], n: int, tmp: Path, repeats: int) -> None:
    """Seconds of each case, best of `repeats`, run in turns so a busy machine weighs on all alike."""
    fns = {name: CASES[name](tmp, n) for name in names}
    out: dict[str, dict[str, Any]] = {name: {"s": float("inf"), "runs": repeats} for name in names}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()
            start = time.perf_counter()
            out[name]["value"] = fn()
            out[name]["s"] = min(out[name]["s"], time.perf_counter() - start)
    print(json.dumps(out))


def child_memory(name: str, n: int, tmp: Path, trace: bool) -> None:
    """One run of a case in this fresh process, its inputs loaded: growth of the peak RSS, and
    tracemalloc's peak if asked (numpy work: few allocations, so tracing costs next to nothing)."""
    fn = CASES[name](tmp, n)
    gc.collect()
    before = _peak_rss_mb(reset=True)
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    value = fn()
    out = {"s": time.perf_counter() - start, "runs": 1, "value": value}
    if trace:
        out["traced_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    out["rss_mb"] = _peak_rss_mb() - before
    print(json.dumps(out))


def _child(*args: object) -> Any:
    cmd = [sys.executable, __file__, *map(str, args)]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def run_pair(
    ours: str, base: str, n: int, tmp: Path, repeats: int = 3, trace: bool = True
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each case's memory (a fresh process each), then their times (best of `repeats`, in turns,
    in one more process); with repeats=0 the time of the memory run (slow cases, one run)."""
    out = [_child("--memory", name, n, tmp, int(trace)) for name in (ours, base)]
    if repeats:
        times = _child("--time", f"{ours},{base}", n, tmp, repeats)
        for result, name in zip(out, (ours, base), strict=True):
            result.update(times[name])
    load = round(os.getloadavg()[0], 2)
    for result, name in zip(out, (ours, base), strict=True):
        result["load"] = load
        mem = f", {result['traced_mb']:.0f} MB traced" if trace else ""
        print(f"  {name} n={n:,}: {result['s']:.3f} s{mem}, peak RSS +{result['rss_mb']:.0f} MB", flush=True)
    print(f"  load average (1 min): {load}", flush=True)
    return out[0], out[1]


# Rows ------------------------------------------------------------------------------------------


def mb(result: dict[str, Any]) -> float:
    """The case's memory beyond its inputs: tracemalloc's peak where traced, else peak RSS growth."""
    return result.get("traced_mb", result["rss_mb"])


def memory_params(ours: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    how = (
        "tracemalloc peak over one run in a fresh process (numpy buffers and Python objects), inputs loaded"
        if "traced_mb" in ours
        else "growth of the peak resident set (VmHWM) over one run in a fresh process, inputs loaded"
    )
    return {
        "memory": how,
        "peak_rss_growth_mb": round(ours["rss_mb"], 1),
        "baseline_peak_rss_growth_mb": round(base["rss_mb"], 1),
    }


def pair(
    what: str, n: int, ours: dict[str, Any], base: dict[str, Any], baseline: str, params: dict[str, Any]
) -> list[dict[str, Any]]:
    """A time row and a memory row of one case against its baseline."""
    common = {"baseline": baseline, "n": n, "lower_is_better": True, **params}
    time_params = {
        **common,
        "runs": ours["runs"],
        "baseline_runs": base["runs"],
        "timing": "best of runs, ours and the baseline in turns in one process"
        if ours["runs"] > 1
        else "one run (the memory run)",
        "load_average_1min_after": ours["load"],
    }
    mem_params = {**common, **memory_params(ours, base)}
    return [
        row(f"{what}, {n:,} rows: s", ours["s"], base["s"], time_params),
        row(f"{what}, {n:,} rows: peak MB beyond the input", mb(ours), mb(base), mem_params),
    ]


def row(metric: str, value: float, baseline: float, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "bench": "diversity",
        "backend": "numpy",
        "model": "",
        "device": env()["device"],
        "metric": metric,
        "value": round(value, 4),
        "baseline": round(baseline, 4),
        "ratio": round(value / baseline, 4) if baseline else None,
        "params": {**params, "speedup": round(baseline / value, 2) if value else None, **env()["params"]},
    }


def rel(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


def vendi_rows(tmp: Path) -> list[dict[str, Any]]:
    out = []
    refs = (
        ("vendi_x", 2, "score_X", "vendi_score.vendi.score_X (n x n kernel)"),
        ("vendi_dual", 3, "score_dual", "vendi_score.vendi.score_dual"),
    )
    for case, repeats, short, name in refs:
        ours, base = run_pair("vendi", case, SMALL, tmp, repeats)
        assert rel(ours["value"], base["value"]) < 1e-4, (ours["value"], base["value"])
        out += pair(
            f"Vendi score (semantic.vendi) against {short}",
            SMALL,
            ours,
            base,
            f"{name} 0.0.3, same float32 input",
            {"vendi": ours["value"], "baseline_vendi": base["value"]},
        )
    for n in SIZES:
        ours, base = run_pair("vendi", "vendi_dual", n, tmp)
        assert rel(ours["value"], base["value"]) < 1e-4, (ours["value"], base["value"])
        extra: dict[str, Any] = {"vendi": ours["value"], "baseline_vendi": base["value"]}
        if n == max(SIZES):
            extra |= {"goal_s": GOAL_S, "meets_goal": ours["s"] < GOAL_S}
        out += pair(
            "Vendi score (semantic.vendi)",
            n,
            ours,
            base,
            "vendi_score.vendi.score_dual 0.0.3, same float32 input",
            extra,
        )
    return out


def semantic_rows(tmp: Path) -> list[dict[str, Any]]:
    out = []
    X = np.load(tmp / f"x{SMALL}.npy").astype(np.float64)  # check of the formula on the Gram matrix
    G = X @ X.T
    check = 1.0 - (G.sum() - np.trace(G)) / (SMALL * (SMALL - 1))
    for n in SIZES:
        ours, base = run_pair("mean_distance", "mean_numpy", n, tmp)
        assert rel(ours["value"], base["value"]) < 1e-6, (ours["value"], base["value"])
        out += pair(
            "mean cosine distance (semantic.mean_distance)",
            n,
            ours,
            base,
            "normalize all rows then |sum x|^2 in one numpy expression (no Gram matrix)",
            {
                "mean_distance": ours["value"],
                "baseline_mean_distance": base["value"],
                f"checked_on_the_{SMALL}_row_gram_matrix": check,
            },
        )
    for n in SIZES:
        ours, base = run_pair("moments_batches", "moments_whole", n, tmp)
        assert max(rel(a, b) for a, b in zip(ours["value"], base["value"], strict=True)) < 1e-6
        out += pair(
            f"Moments in batches of {BATCH:,} (from_bytes, add, to_bytes), then vendi + mean_distance",
            n,
            ours,
            base,
            "one Moments.add over the whole array, then vendi + mean_distance",
            {"batch": BATCH, "vendi": ours["value"][0], "mean_distance": ours["value"][1]},
        )
    return out


def coverage_rows(tmp: Path) -> list[dict[str, Any]]:
    ours, base = run_pair("fit", "fit_sklearn", REAL, tmp, repeats=0, trace=False)
    out = pair(
        "coverage.fit (k-means on the real rows, then every row assigned)",
        REAL,
        ours,
        base,
        "sklearn KMeans(n_init=3).fit on all the real rows, same k",
        {"k": ours["value"], "fit_sample": coverage.FIT_SAMPLE, "sklearn_init": "k-means++"},
    )
    for n in SIZES:
        ours, base = run_pair("coverage", "coverage_sklearn", n, tmp)
        moved = int(np.abs(np.array(ours["value"]["hist"]) - np.array(base["value"])).sum()) // 2
        out += pair(
            "coverage: histogram of the synthetic rows over the real clusters + compare",
            n,
            ours,
            base,
            "sklearn.metrics.pairwise_distances_argmin + bincount (histogram only)",
            {
                "k": len(base["value"]),
                "rows_in_another_cluster_than_baseline": moved,
                **{key: ours["value"][key] for key in ("covered", "tail_coverage", "jsd")},
            },
        )
    return out


def lexical_rows(tmp: Path, corpus: dict[str, Any]) -> list[dict[str, Any]]:
    ours, base = run_pair("summary", "oneshot", TEXTS, tmp, repeats=0, trace=False)
    for key in ("distinct_1", "distinct_2", "distinct_3", "mattr", "ngram_entropy", "vendi", "coverage"):
        assert rel(ours["value"][key], base["value"][key]) < 1e-6, key
    per_text = ours["s"] / TEXTS
    return pair(
        f"summary.Summary in batches of {BATCH:,} (texts + vectors: every metric)",
        TEXTS,
        ours,
        base,
        "lexical.lexical + semantic.vendi + semantic.mean_distance + coverage on the whole corpus at once",
        {
            **corpus,
            "figures": {k: round(v, 6) for k, v in ours["value"].items()},
            "baseline_compression_ratio": round(base["value"]["compression_ratio"], 6),
            "not_run_1m": "1,000,000 texts not run: pure-Python tokenizing and n-gram counting at "
            f"{per_text * 1e6:.0f} us a text would take over the bench's whole budget",
            "estimate_1m_s": f"ESTIMATE, not a measurement: {per_text * 1e6:.0f} s (100,000 texts x 10)",
        },
    )


@cache
def env() -> dict[str, Any]:
    return {"device": device(), "params": {"threads": THREADS, "blas": blas()}}


def main() -> None:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="assay-bench-diversity-") as name:
        tmp = Path(name)
        corpus = write_inputs(tmp)
        print(f"inputs: {time.perf_counter() - start:.0f} s", flush=True)
        results = []
        for part in (vendi_rows, semantic_rows, coverage_rows):
            t = time.perf_counter()
            results += part(tmp)
            print(f"{part.__name__}: {time.perf_counter() - t:.0f} s", flush=True)
        t = time.perf_counter()
        results += lexical_rows(tmp, corpus)
        print(f"lexical_rows: {time.perf_counter() - t:.0f} s", flush=True)
    total = time.perf_counter() - start
    for r in results:
        r["params"]["bench_total_s"] = round(total)
    results.sort(key=lambda r: (r["metric"].split(",")[0].lower(), r["params"]["n"], r["metric"]))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    for r in results:
        print(f"{r['metric']}: {r['value']} vs {r['baseline']} ({r['params']['baseline']}): x{r['ratio']}")
    print(f"total {total:.0f} s")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--time":
        child_time(sys.argv[2].split(","), int(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--memory":
        child_memory(sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5] == "1")
    else:
        main()
