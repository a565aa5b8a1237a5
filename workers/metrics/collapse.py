"""Comparing a group of texts with a reference (the human data, or the previous generation
depth) on samples of the same size: distinct-n, Vendi and coverage all grow with the sample,
so only equal sizes compare. A metric that falls past the threshold raises an alarm."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from workers.metrics import coverage, lexical, semantic

DEFAULT_DROP = 0.15  # the per-generation loss the research measures (15-20%)
MIN_SAMPLE = 30  # below this a comparison is noise, and no alarm is raised


@dataclass(frozen=True)
class Metric:
    label: str
    higher_is_diverse: bool | None  # None: shown, never compared (jsd is 0 for the reference)
    alarm: bool  # one of the metrics the alarm watches
    help: str


METRICS: dict[str, Metric] = {
    "vendi": Metric("Vendi score", True, True, "effective number of distinct meanings (MiniLM)"),
    "mean_distance": Metric("Mean cosine distance", True, True, "average pairwise distance of embeddings"),
    "distinct_1": Metric("Distinct-1", True, False, "distinct words over all words"),
    "distinct_2": Metric("Distinct-2", True, True, "distinct word pairs over all word pairs"),
    "distinct_3": Metric("Distinct-3", True, False, "distinct word triples over all word triples"),
    "mattr": Metric("MATTR", True, True, "type-token ratio over 50-word windows, length-robust"),
    "ngram_entropy": Metric("Bigram entropy", True, False, "bits of the word-pair distribution"),
    "compression_ratio": Metric("Compression ratio", False, False, "raw / zlib size; higher repeats more"),
    "coverage": Metric("Cluster coverage", True, True, "share of real-data clusters covered"),
    "tail_coverage": Metric("Tail coverage", True, False, "share of the rarest real clusters covered"),
    "jsd": Metric("Jensen-Shannon divergence", None, False, "cluster histogram vs the real data; 0 is equal"),
}

ADVICE = (
    "Widen the seeds: a larger or more varied real source, more few-shot examples per prompt.",
    "Add or widen `diversity` attributes (topics, personas) in the campaign config.",
    "Raise the generator's temperature or top_p.",
    "Keep generation depth at 1: fewer synthetic-of-synthetic seeds.",
)


def profile(
    texts: Sequence[str], vectors: np.ndarray, centroids: np.ndarray | None, real_counts: np.ndarray | None
) -> dict[str, float]:
    """Every metric of one group (a bounded sample: the whole group is read)."""
    out = lexical.lexical(texts)
    vectors = np.asarray(vectors, dtype=np.float32)
    out["vendi"] = semantic.vendi(vectors) if len(vectors) else 0.0
    out["mean_distance"] = semantic.mean_distance(vectors) if len(vectors) else 0.0
    if centroids is not None and real_counts is not None and len(vectors):
        cov = coverage.compare(real_counts, coverage.histogram(vectors, centroids))
        out.update(coverage=cov.covered, tail_coverage=cov.tail_coverage, jsd=cov.jsd)
    return out


def change(value: float, reference: float, higher_is_diverse: bool) -> float | None:
    """Signed relative change in diversity: -0.2 is 20% less diverse than the reference."""
    if higher_is_diverse:
        return value / reference - 1 if reference > 0 else None
    return reference / value - 1 if value > 0 else None


def compare(group: dict[str, float], reference: dict[str, float]) -> dict[str, float]:
    out = {}
    for name, m in METRICS.items():
        if m.higher_is_diverse is None or name not in group or name not in reference:
            continue
        c = change(group[name], reference[name], m.higher_is_diverse)
        if c is not None:
            out[name] = c
    return out


def alarms(changes: dict[str, float], drop: float = DEFAULT_DROP, n: int = MIN_SAMPLE) -> list[str]:
    """The watched metrics that fell more than `drop` below the reference (none on too few texts)."""
    if n < MIN_SAMPLE:
        return []
    return [name for name, c in changes.items() if METRICS[name].alarm and c < -drop]
