"""Contamination by verbatim copying: word n-grams a candidate shares with held-out answers.

The hashes of every held-out answer's n-grams are stored as indexed BIGINT rows; the caller
looks up a candidate's `ngram_hashes` there and hands `contamination` the counts per example.
Light rewording is the MinHash critic's job (workers.critics.minhash); this one catches whole
copies, halves, and paragraphs lifted into other text.

N = 8, chosen on the acceptance data (95 train + 20 held-out Debian FAQ answers, 24 synthetic
good answers): with 13-grams the first 40% of the shortest held-out answer (31 words) shares no
n-gram at all and its half shares 3; with 8-grams it shares 5 and 8. Shorter n-grams grow the
boilerplate two distinct real answers share (8-grams: at most 7, one 14-word sentence such as
"for more information on the available ports see the ports pages at the website"; 6-grams: 11).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from workers.critics.text import words

N: int = 8
# Bump when tokenizing or hashing changes: the stored held-out hashes are recomputed.
VERSION: str = "8.1"

# The rule (see `contamination`), measured with N = 8. Distinct real answers: at most 7 shared
# n-grams, at most 9.7% of either answer; good novel answers share none. Copies of each held-out
# answer: the first half shares >= 8 and 100% of the candidate; the first 40% followed by new
# text >= 19% of the held-out answer (the shortest), or >= 20 n-grams once the answer is longer.
MIN_SHARED: int = 3  # a 10-word run
HELDOUT_SHARE: float = 0.15
CANDIDATE_SHARE: float = 0.5
CANDIDATE_MIN_SHARED: int = 8  # more than any boilerplate shared by two real answers
LONG_RUN: int = 20  # a 27-word verbatim run, or several shorter ones, whatever the shares

_U64 = np.uint64
_BASE = _U64(0x9E3779B97F4A7C15)  # odd: the polynomial stays a bijection in each word


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> _U64(33))
    h = h * _U64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> _U64(33))


@lru_cache(maxsize=1 << 18)
def _word_hash(word: str) -> int:
    # blake2b, not hash(): Python salts str hashes per process, stored hashes must match later.
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")


def ngram_hashes(text: str) -> np.ndarray:
    """Distinct int64 hashes of the normalized text's word N-grams (punctuation, case and spacing
    ignored). A text of fewer than N words gives one hash of its whole word sequence, so a short
    held-out answer copied exactly still matches; a text without words gives none."""
    ws = np.fromiter(map(_word_hash, words(text)), dtype=np.uint64)
    if not len(ws):
        return np.empty(0, dtype=np.int64)
    n = min(N, len(ws))
    h = np.full(len(ws) - n + 1, n, dtype=np.uint64)  # the length seeds the hash: short != N-gram
    for k in range(n):
        h = h * _BASE + ws[k : k + len(h)]
    return np.unique(_fmix64(h).view(np.int64))


@dataclass(frozen=True)
class Contamination:
    example_ref: str
    shared: int  # the candidate's distinct n-grams found in the held-out example
    candidate_share: float  # of the candidate's n-grams
    heldout_share: float  # of the held-out example's n-grams


def contamination(candidate_text: str, matches: Mapping[str, tuple[int, int]]) -> Contamination | None:
    """The worst held-out example the candidate copies from, or None.

    `matches` maps example_ref -> (the candidate's n-gram hashes found in that example, the
    example's number of n-gram hashes). An example is copied when
      - at least HELDOUT_SHARE of it is in the candidate, over MIN_SHARED n-grams or all of a
        shorter example (whole copies, halves, a large part followed by new text), or
      - at least CANDIDATE_SHARE of the candidate comes from it, over CANDIDATE_MIN_SHARED n-grams
        (a passage lifted with little around it), or
      - they share LONG_RUN n-grams whatever the shares (a paragraph of a long answer embedded in
        new text).
    Worst = the largest share of either text, then the most n-grams shared."""
    total = len(ngram_hashes(candidate_text))
    found = []
    for ref, (shared, heldout_total) in matches.items():
        if shared <= 0 or total == 0 or heldout_total <= 0:
            continue
        c = Contamination(ref, shared, min(shared / total, 1.0), min(shared / heldout_total, 1.0))
        if (
            (c.heldout_share >= HELDOUT_SHARE and shared >= min(MIN_SHARED, heldout_total))
            or (c.candidate_share >= CANDIDATE_SHARE and shared >= CANDIDATE_MIN_SHARED)
            or shared >= LONG_RUN
        ):
            found.append(c)
    return max(found, key=lambda c: (max(c.candidate_share, c.heldout_share), c.shared), default=None)
