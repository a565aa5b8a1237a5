"""Contamination by verbatim copying: a candidate holding a held-out answer whole, its first half,
a paragraph of it inside new text, or a short held-out answer copied exactly, is found; distinct
real answers of the same domain (some share a boilerplate sentence) and good novel answers are
not. `matches` is computed as the database lookup does it: the candidate's hashes found among
each held-out example's stored hashes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workers.critics import ngrams
from workers.critics.text import words

ROWS = [json.loads(line) for line in (Path(__file__).parents[1] / "data" / "critics_near_dup.jsonl").open()]
HELDOUT = {r["id"]: r["response"] for r in ROWS if r["split"] == "heldout"}
TRAIN = [r["response"] for r in ROWS if r["split"] == "train"]
GOOD = [r["response"] for r in ROWS if r["split"] == "good"]
SHORT = "Run dpkg --configure -a."  # fewer than N words


def matches(candidate: str, heldout: dict[str, str]) -> dict[str, tuple[int, int]]:
    cand = ngrams.ngram_hashes(candidate)
    out = {}
    for ref, text in heldout.items():
        stored = ngrams.ngram_hashes(text)
        shared = int(np.isin(cand, stored).sum())
        if shared:
            out[ref] = (shared, len(stored))
    return out


def found(candidate: str, heldout: dict[str, str] | None = None) -> ngrams.Contamination | None:
    heldout = HELDOUT if heldout is None else heldout
    return ngrams.contamination(candidate, matches(candidate, heldout))


def new_text(k: int) -> str:
    return "\n\n".join(GOOD[:k])


@pytest.mark.parametrize("ref", sorted(HELDOUT))
def test_a_whole_copy_is_found(ref):
    c = found("Sure! " + HELDOUT[ref].upper())
    assert c is not None and c.example_ref == ref and c.heldout_share == 1.0


@pytest.mark.parametrize("ref", sorted(HELDOUT))
def test_the_first_half_is_found(ref):
    toks = HELDOUT[ref].split()
    c = found(" ".join(toks[: len(toks) // 2]))
    assert c is not None and c.example_ref == ref and c.candidate_share == 1.0


@pytest.mark.parametrize("ref", sorted(HELDOUT))
def test_the_first_40_percent_followed_by_new_text_is_found(ref):
    toks = HELDOUT[ref].split()
    c = found(" ".join(toks[: int(len(toks) * 0.4)]) + "\n\n" + new_text(3))
    assert c is not None and c.example_ref == ref


def test_a_paragraph_embedded_in_new_text_is_found():
    cases = 0
    for ref, text in HELDOUT.items():
        paragraphs = [p for p in text.split("\n\n") if len(words(p)) >= 25]
        for p in paragraphs:
            c = found(new_text(2) + "\n\n" + p + "\n\n" + new_text(3))
            assert c is not None and c.example_ref == ref, (ref, p[:60])
            cases += 1
    assert cases >= 5


def test_a_short_heldout_answer_copied_exactly_is_found():
    heldout = {**HELDOUT, "short": SHORT}
    assert len(ngrams.ngram_hashes(SHORT)) == 1
    c = found("run DPKG  --configure -a", heldout)
    assert c is not None and c.example_ref == "short" and c.shared == 1 and c.heldout_share == 1.0


def test_distinct_real_answers_of_the_same_domain_are_not_contamination():
    # Among them, pairs sharing a 14-word boilerplate sentence ("for more information on the
    # available ports see the ports pages at the website"): 7 shared 8-grams.
    most = 0
    for text in TRAIN + list(HELDOUT.values()):
        others = {ref: h for ref, h in HELDOUT.items() if h != text}
        m = matches(text, others)
        most = max([most, *(s for s, _ in m.values())])
        assert ngrams.contamination(text, m) is None
    assert 0 < most < ngrams.CANDIDATE_MIN_SHARED


def test_good_novel_answers_are_not_contamination():
    for g in GOOD:
        assert found(g) is None


def test_the_worst_example_is_reported():
    a, b = sorted(HELDOUT)[:2]
    toks_a, toks_b = HELDOUT[a].split(), HELDOUT[b].split()
    candidate = " ".join(toks_a) + "\n\n" + " ".join(toks_b[: len(toks_b) // 2])
    c = found(candidate)
    assert c is not None and c.example_ref == a and c.heldout_share == 1.0


def test_a_few_shared_ngrams_are_not_enough():
    assert ngrams.contamination("a b c d e f g h i j k", {"x": (2, 400)}) is None
    assert ngrams.contamination("", {"x": (1, 1)}) is None
    assert ngrams.contamination("anything at all", {}) is None


def test_hashes_are_distinct_int64_of_normalized_words_and_stable():
    h = ngrams.ngram_hashes("One two three four five six seven eight nine, ten!")
    assert h.dtype == np.int64 and len(h) == 3 and len(np.unique(h)) == 3
    assert np.array_equal(h, ngrams.ngram_hashes("ONE two  three four five six seven eight nine ten"))
    assert ngrams.ngram_hashes("").size == 0 and ngrams.ngram_hashes("...").size == 0
    # A text of fewer than N words has one hash, never equal to an N-gram's.
    assert len(ngrams.ngram_hashes("one two three")) == 1
    assert not np.isin(ngrams.ngram_hashes("one two three four five six seven"), h).any()
    # Stored hashes must match later lookups: a change here means bumping ngrams.VERSION.
    assert ngrams.ngram_hashes(SHORT).tolist() == GOLDEN


GOLDEN = [-6184703910058384391]
