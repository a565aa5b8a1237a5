"""Near-duplicate signatures: copies of real answers (reworded, reordered, recased, cut short,
extended) are found through the whole path an index query takes (signatures, a shared band key,
then verification on the texts); novel answers on the same topic are not. The rows are real
Debian FAQ answers and synthetic good answers from the acceptance data, including the closest
pairs of distinct answers found there."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from workers.critics import minhash
from workers.critics.text import words

ROWS = [json.loads(line) for line in (Path(__file__).parents[1] / "data" / "critics_near_dup.jsonl").open()]
REAL = [r["response"] for r in ROWS if r["split"] in ("train", "heldout")]
GOOD = [r["response"] for r in ROWS if r["split"] == "good"]
OTHER_WORDS = sorted({w for t in GOOD for w in words(t)})
APPENDED = "Remember to keep a backup of your configuration before you change anything on a live system."


def reword(text: str, seed: int = 0) -> str:
    """One word in seven replaced by another word."""
    rng = random.Random(seed)
    toks = text.split(" ")
    return " ".join(rng.choice(OTHER_WORDS) if i % 7 == 6 else t for i, t in enumerate(toks))


def shuffle_sentences(text: str, seed: int = 0) -> str:
    sentences = re.split(r"(?<=[.!?:])\s+|\n\n+", text.strip())
    if len(sentences) == 1:  # one long sentence: reorder its clauses
        sentences = text.split(", ")
    order = random.Random(seed).sample(sentences, len(sentences))
    if order == sentences:  # a shuffle may leave them be: then move the first to the end
        order = sentences[1:] + sentences[:1]
    return " ".join(order)


def recase(text: str) -> str:
    """Upper case, punctuation dropped or changed, spacing changed."""
    return re.sub(
        r"[.,;:!?()\"']", lambda m: {".": " ;", ",": "", "?": "!"}.get(m.group(), " "), text.upper()
    )


def first_half(text: str) -> str:
    toks = text.split()
    return " ".join(toks[: len(toks) // 2])


def appended(text: str) -> str:
    return text + " " + APPENDED


VARIANTS: dict[str, Callable[[str], str]] = {
    "reworded": reword,
    "reordered": shuffle_sentences,
    "recased": recase,
    "first half": first_half,
    "sentence appended": appended,
    "reworded and reordered": lambda t: shuffle_sentences(reword(t)),
}


def index(texts: list[str]) -> dict[int, set[int]]:
    """band key -> row numbers, as the BIGINT index rows are queried with `band_key IN (...)`."""
    out: dict[int, set[int]] = {}
    for i, keys in enumerate(minhash.band_keys(minhash.signatures(texts))):
        for k in keys.tolist():
            out.setdefault(k, set()).add(i)
    return out


def lookup(idx: dict[int, set[int]], text: str) -> set[int]:
    keys = minhash.band_keys(minhash.signatures([text]))[0].tolist()
    return set().union(*(idx.get(k, set()) for k in keys))


def test_the_rows_cover_short_long_and_close_pairs():
    assert len(REAL) >= 20 and len(GOOD) >= 5
    assert min(len(words(t)) for t in REAL) < 30 < 400 < max(len(words(t)) for t in REAL)


# The share of copies the band keys must retrieve. A copy of jaccard J shares a band with
# probability 1 - (1 - J**4)**32: about 1 for a rewording (J ~0.6-0.8) or a reordering (J > 0.85),
# 0.87 for a first half (J ~0.5 by construction). Verification must pass for every copy.
RETRIEVED = {"first half": 0.85, "reworded and reordered": 0.9}


@pytest.mark.parametrize("kind", VARIANTS)
def test_it_finds_each_kind_of_near_copy_through_the_index(kind):
    rows = REAL + GOOD
    idx = index(rows)
    found = 0
    for i, source in enumerate(REAL):
        copy = VARIANTS[kind](source)
        assert copy != source
        o = minhash.overlap(copy, source)
        assert minhash.is_near_duplicate(o, minhash.DEFAULT_THRESHOLD), f"{kind} of row {i}: {o}"
        suspects = lookup(idx, copy)
        found += i in suspects
        # Verification keeps the source alone: no other answer passes for a copy.
        assert [j for j in suspects if minhash.is_near_duplicate(minhash.overlap(copy, rows[j]))] in ([], [i])
    assert found >= RETRIEVED.get(kind, 1.0) * len(REAL), f"{kind}: {found} of {len(REAL)} retrieved"


def test_a_cut_copy_lies_inside_its_source_and_an_extended_one_holds_it():
    source = REAL[0]
    cut, longer = minhash.overlap(first_half(source), source), minhash.overlap(appended(source), source)
    assert cut.containment == 1.0 and cut.jaccard < 0.6
    assert longer.reverse_containment == 1.0 and longer.containment < 1.0


def test_distinct_real_answers_are_not_near_copies_of_each_other():
    worst = 0.0
    for i, a in enumerate(REAL):
        for j, b in enumerate(REAL):
            if i != j:
                o = minhash.overlap(a, b)
                worst = max(worst, o.containment)
                assert not minhash.is_near_duplicate(o), (i, j, o)
    assert worst < minhash.DEFAULT_THRESHOLD - 0.15  # the closest pair (0.31) keeps a margin


def test_good_novel_answers_on_the_same_topic_are_neither_retrieved_nor_verified():
    idx = index(REAL)
    for g in GOOD:
        assert lookup(idx, g) == set()
        for r in REAL:
            assert not minhash.is_near_duplicate(minhash.overlap(g, r))
            assert not minhash.is_near_duplicate(minhash.overlap(r, g))


def test_a_few_common_phrases_do_not_make_a_short_text_a_copy():
    # Every bigram of this answer occurs in a long real one: containment 1, but 4 bigrams only.
    long = next(t for t in REAL if "dpkg --listfiles foo" in t)
    o = minhash.overlap("dpkg --listfiles foo execute", long)
    assert o.containment == 1.0 and o.shared < minhash.MIN_SHARED
    assert not minhash.is_near_duplicate(o)


def test_case_punctuation_spacing_and_unicode_form_do_not_change_the_shingles():
    # Curly quotes and dashes are punctuation; fullwidth letters are letters after NFKC.
    a = minhash.shingles(
        "Don\u2019t run   apt-get as root; use sudo \u2014 \u201cna\u00efve\u201d \uff21\uff30\uff34"
    )
    b = minhash.shingles("don \u2019 t RUN apt get as ROOT use sudo NA\u00cfVE apt!")
    assert np.array_equal(a, b)
    assert minhash.shingles("").size == 0 and minhash.shingles("?!").size == 0
    assert minhash.shingles("word").size == 1  # a one-word text still has a shingle


def test_signatures_are_deterministic_and_the_same_in_a_batch_or_one_by_one():
    texts = [*REAL, *GOOD, "", "one", "?? !!"]
    batch = minhash.signatures(texts)
    assert batch.shape == (len(texts), minhash.NUM_PERM) and batch.dtype == np.uint32
    assert np.array_equal(batch, minhash.signatures(texts))
    assert np.array_equal(batch, np.vstack([minhash.signatures([t]) for t in texts]))
    assert (batch[-3] == np.iinfo(np.uint32).max).all() and (batch[-1] == np.iinfo(np.uint32).max).all()
    assert minhash.signatures([]).shape == (0, minhash.NUM_PERM)


def test_a_batch_larger_than_one_block_gives_the_same_signatures(monkeypatch):
    monkeypatch.setattr(minhash, "_CHUNK", 300)
    texts = [*REAL, "", *GOOD, "one"]
    assert sum(len(words(t)) for t in texts) > 10 * minhash._CHUNK
    assert np.array_equal(minhash.signatures(texts), np.vstack([minhash.signatures([t]) for t in texts]))


def test_signatures_survive_a_restart():
    # Another process (with its own str hash salt) computes the same signature; a change here
    # means stored signatures are stale: bump minhash.VERSION.
    code = (
        "from workers.critics import minhash; "
        "print(minhash.signatures(['Use apt-get dist-upgrade.'])[0].tolist())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[2],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout) == minhash.signatures(["Use apt-get dist-upgrade."])[0].tolist()
    assert minhash.signatures(["Use apt-get dist-upgrade."])[0][:4].tolist() == GOLDEN


GOLDEN = [343092602, 1325284481, 73303169, 454060140]


def test_it_is_datasketch_minhash_given_the_same_shingle_hashes():
    datasketch = pytest.importorskip("datasketch")
    for text in REAL[:5]:
        m = datasketch.MinHash(num_perm=minhash.NUM_PERM, seed=minhash.SEED, hashfunc=int)
        m.update_batch(minhash.shingles(text).tolist())
        assert np.array_equal(m.hashvalues, minhash.signatures([text])[0])


def test_estimate_approximates_the_exact_jaccard():
    pairs = [(VARIANTS[k](t), t) for k in VARIANTS for t in REAL] + [(a, b) for a in GOOD for b in REAL[:5]]
    errors = [
        abs(minhash.estimate(*minhash.signatures([a, b])) - minhash.overlap(a, b).jaccard) for a, b in pairs
    ]
    assert max(errors) <= 0.12
    assert float(np.mean(errors)) <= 0.04


def test_band_keys_are_signed_64_bit_and_tell_bands_apart():
    sigs = minhash.signatures(REAL[:3])
    keys = minhash.band_keys(sigs)
    assert keys.shape == (3, minhash.BANDS) and keys.dtype == np.int64
    assert minhash.BANDS * minhash.ROWS == minhash.NUM_PERM
    same = np.full(minhash.NUM_PERM, 7, dtype=np.uint32)  # equal values in every band
    assert len(set(minhash.band_keys(same[None])[0].tolist())) == minhash.BANDS
    changed = sigs[0].copy()
    changed[0] += 1  # one value of the first band
    shared = set(minhash.band_keys(changed[None])[0].tolist()) & set(keys[0].tolist())
    assert len(shared) == minhash.BANDS - 1


def test_a_signature_round_trips_through_bytes():
    sig = minhash.signatures([REAL[0]])[0]
    b = minhash.to_bytes(sig)
    assert len(b) == 4 * minhash.NUM_PERM
    assert np.array_equal(minhash.from_bytes(b), sig)
    with pytest.raises(ValueError):
        minhash.from_bytes(b[:-4])
