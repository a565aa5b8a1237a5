"""The diversity engines against their definitions and the reference Vendi package."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from vendi_score import vendi as reference

from workers.metrics import collapse, coverage, lexical, sample, semantic
from workers.metrics.summary import Summary

FAQ = Path(__file__).resolve().parents[2] / "curation" / "demo" / "data" / "python_faq.jsonl"


def _faq() -> list[str]:
    return [json.loads(line)["response"] for line in FAQ.open(encoding="utf-8")]


@pytest.fixture(scope="module")
def faq_vectors():
    from workers.critics import embeddings

    texts = _faq()
    return texts, embeddings.get_encoder().encode(texts)


@pytest.mark.parametrize("shape", [(5, 384), (50, 8), (300, 384), (1000, 16)])
def test_dual_form_equals_the_n_by_n_form_and_the_reference_package(shape):
    X = np.random.default_rng(sum(shape)).normal(size=shape).astype(np.float32)
    ours = semantic.vendi(X)
    assert ours == pytest.approx(semantic.vendi_gram(X), rel=1e-5)
    assert ours == pytest.approx(reference.score_X(X), rel=1e-4)
    assert ours == pytest.approx(reference.score_dual(X), rel=1e-4)


def test_vendi_on_real_minilm_embeddings_equals_the_reference_package(faq_vectors):
    _, X = faq_vectors
    assert semantic.vendi(X) == pytest.approx(reference.score_X(X), rel=1e-4)
    assert semantic.vendi(X[:40]) == pytest.approx(semantic.vendi_gram(X[:40]), rel=1e-5)


def test_vendi_bounds():
    assert semantic.vendi(np.ones((10, 4))) == pytest.approx(1.0)  # one meaning, said ten times
    assert semantic.vendi(np.eye(6)) == pytest.approx(6.0)  # six orthogonal meanings
    assert semantic.vendi(np.zeros((0, 4))) == 0.0


def test_paraphrases_of_one_answer_score_far_lower_than_real_data(faq_vectors):
    from workers.critics import embeddings

    texts, X = faq_vectors
    answer = texts[0]
    collapsed = [
        answer,
        answer + " Indeed.",
        "In short: " + answer,
        answer.replace("Python", "The Python language"),
        answer.replace(".", ";", 2),
        answer + " That is all.",
    ] * 7
    C = embeddings.get_encoder().encode(collapsed)
    real = X[: len(collapsed)]
    assert semantic.vendi(C) < 0.25 * semantic.vendi(real)
    assert semantic.mean_distance(C) < 0.5 * semantic.mean_distance(real)
    assert lexical.distinct_n(collapsed, 2) < 0.5 * lexical.distinct_n(texts[: len(collapsed)], 2)
    assert lexical.compression_ratio(collapsed) > 2 * lexical.compression_ratio(texts[: len(collapsed)])


def test_moments_are_a_running_sum():
    X = np.random.default_rng(1).normal(size=(500, 32)).astype(np.float32)
    once = semantic.Moments(32).add(X)
    parts = semantic.Moments(32)
    for i in range(0, 500, 37):
        parts.add(X[i : i + 37])
    other = semantic.Moments(32).add(X[:200]).merge(semantic.Moments(32).add(X[200:]))
    again = semantic.Moments.from_bytes(parts.to_bytes())
    for m in (parts, other, again):
        assert m.n == 500
        # float32 products summed in float64: equal to rounding
        assert m.vendi() == pytest.approx(once.vendi(), rel=1e-6)
        assert m.mean_distance() == pytest.approx(once.mean_distance(), rel=1e-6)
    with pytest.raises(ValueError, match="shape"):
        parts.add(np.zeros((3, 8)))


def test_mean_distance_is_the_mean_over_distinct_pairs():
    X = np.random.default_rng(2).normal(size=(40, 6))
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    S = U @ U.T
    brute = 1 - (S.sum() - np.trace(S)) / (40 * 39)
    assert semantic.mean_distance(X) == pytest.approx(brute, rel=1e-6)


def test_distinct_n_is_corpus_level():
    texts = ["the cat sat", "the cat ran"]
    assert lexical.distinct_n(texts, 1) == pytest.approx(4 / 6)
    assert lexical.distinct_n(texts, 2) == pytest.approx(3 / 4)
    assert lexical.distinct_n([], 2) == 0.0
    assert lexical.lexical(texts)["distinct_2"] == pytest.approx(3 / 4)


def test_mattr_does_not_punish_length_as_plain_ttr_does():
    tokens = lexical.words(" ".join(_faq()[:30]))
    short, long = tokens[:200], tokens[:2000]
    ttr = [len(set(t)) / len(t) for t in (short, long)]
    mattr = [lexical.mattr(t) for t in (short, long)]
    assert ttr[1] < 0.7 * ttr[0]  # plain TTR falls as the text grows
    assert mattr[1] == pytest.approx(mattr[0], rel=0.1)  # MATTR stays put
    assert lexical.mattr(["a", "b", "a"]) == pytest.approx(2 / 3)  # shorter than the window: plain TTR
    assert lexical.mattr(["w"] * 100) == pytest.approx(1 / 50)
    assert lexical.mattr([]) is None


def test_entropy_and_compression():
    uniform = [" ".join(f"w{i} x{i}" for i in range(8))]  # 15 distinct bigrams, once each
    assert lexical.ngram_entropy(uniform) == pytest.approx(math.log2(15))
    assert lexical.compression_ratio(["abc " * 500]) > 20
    assert lexical.compressed_sizes([]) == (0, 0)


def test_summary_streams_to_the_same_figures(faq_vectors):
    texts, X = faq_vectors
    whole = Summary(384).add(texts, X).result()
    parts = Summary(384)
    for i in range(0, len(texts), 50):
        parts.add(texts[i : i + 50], X[i : i + 50])
    assert parts.result() == pytest.approx(whole, rel=1e-5)
    assert whole["n"] == len(texts)
    assert whole["distinct_2"] == pytest.approx(lexical.distinct_n(texts, 2))
    assert whole["vendi"] == pytest.approx(reference.score_X(X), rel=1e-4)


def _blobs(counts, seed=0, dim=16):
    rng = np.random.default_rng(seed)
    centres = np.eye(dim)[: len(counts)] * 10
    return np.concatenate(
        [c + rng.normal(scale=0.3, size=(n, dim)) for c, n in zip(centres, counts, strict=True)]
    )


def test_coverage_finds_the_missing_cluster():
    real = _blobs([100, 100, 100, 20])  # the last cluster is the rare one: the tail
    clusters = coverage.fit(real, k=4)
    assert sorted(clusters.counts.tolist()) == [20, 100, 100, 100]
    rare = int(np.argmin(clusters.counts))
    synth = _blobs([100, 100, 100, 0], seed=1)  # the tail is gone
    cov = coverage.compare(clusters.counts, coverage.histogram(synth, clusters.centroids))
    assert cov.covered == pytest.approx(0.75)
    assert cov.tail == [rare]
    assert cov.tail_coverage == 0.0
    assert [c for c, _ in cov.under] == [rare]
    assert cov.over == []
    assert cov.jsd > 0.01
    same = coverage.compare(
        clusters.counts, coverage.histogram(_blobs([100, 100, 100, 20], seed=2), clusters.centroids)
    )
    assert same.covered == 1.0 and same.tail_coverage == 1.0 and same.jsd < 0.01


def test_coverage_names_the_over_filled_cluster():
    real = _blobs([50, 50, 50, 50])
    clusters = coverage.fit(real, k=4)
    synth = _blobs([170, 10, 10, 10], seed=3)
    cov = coverage.compare(clusters.counts, coverage.histogram(synth, clusters.centroids))
    full = int(coverage.assign(synth[:1], clusters.centroids)[0])
    assert [c for c, _ in cov.over] == [full]
    assert cov.over[0][1] == pytest.approx(170 / 200 / 0.25)
    assert len(cov.under) == 3


def test_bottom_k_is_order_free_and_grows_by_prefix():
    ids = list(range(1, 5001))
    a = sample.bottom_k(ids, 100)
    b = sample.bottom_k(reversed(ids), 100)
    c = sample.bottom_k(ids[2500:], 100, keep=sample.bottom_k(ids[:2500], 100))
    assert a == b == c
    assert sample.bottom_k(ids, 30) == a[:30]  # a smaller sample is the prefix of a larger one
    assert sample.bottom_k([3, 1, 2], 10) == sample.bottom_k([1, 2, 3], 10)


def test_alarms_watch_direction_and_sample_size():
    human = {"vendi": 40.0, "distinct_2": 0.7, "compression_ratio": 2.5, "mattr": 0.75}
    narrow = {"vendi": 20.0, "distinct_2": 0.68, "compression_ratio": 5.0, "mattr": 0.74}
    change = collapse.compare(narrow, human)
    assert change["vendi"] == pytest.approx(-0.5)
    assert change["compression_ratio"] == pytest.approx(-0.5)  # more compressible is less diverse
    assert collapse.alarms(change, 0.15, n=100) == ["vendi"]  # compression is shown, not watched
    assert collapse.alarms(change, 0.15, n=10) == []  # too few texts to tell
    assert collapse.alarms(change, 0.6, n=100) == []
