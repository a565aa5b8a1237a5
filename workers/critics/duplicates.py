"""Copies: exact (case and spacing ignored), near (MinHash on the words, verified on the text),
and of held-out data (contamination: exact, shared word n-grams, or a near copy)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from workers.critics import minhash, ngrams
from workers.critics.base import Corpus, Item, Kind, Match, Verdict

_WHERE = {
    "real": "real data",
    "approved": "approved data",
    "candidate": "an earlier candidate",
    "heldout": "held-out data",
    "shot": "one of its own few-shot examples",
}


@dataclass
class DuplicateCritic:
    """Exact copies of real data, approved data or an earlier candidate of the campaign add
    nothing but weight to one sample."""

    name: ClassVar[str] = "duplicate"
    version: ClassVar[str] = "1"
    kind: ClassVar[Kind] = "novelty"
    stage: ClassVar[int] = 1

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]:
        seen = corpus.sightings(items)
        out = []
        for item in items:
            where = sorted(seen.get(item.id, set()) & {"real", "approved", "candidate"})
            if where:
                out.append(Verdict(0.0, False, "duplicate", "copy of " + ", ".join(_WHERE[w] for w in where)))
            else:
                out.append(Verdict(1.0, True, rationale="no exact copy"))
        return out


@dataclass
class NearDuplicateCritic:
    """Near copies: light rewording, reordered sentences, changed casing or punctuation, a cut
    or extended copy. MinHash LSH finds suspects in the stored index; each is verified on the
    words of both texts before anything is flagged."""

    name: ClassVar[str] = "near_duplicate"
    version: ClassVar[str] = "1." + minhash.VERSION
    kind: ClassVar[Kind] = "novelty"
    stage: ClassVar[int] = 2
    threshold: float = minhash.DEFAULT_THRESHOLD

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], not {self.threshold}")

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]:
        near = corpus.near(items)
        out = []
        for item in items:
            suspects = [m for m in near.get(item.id, []) if m.where != "heldout"]
            suspects += [Match("shot", f"few-shot example {i + 1}", s, 0.0) for i, s in enumerate(item.shots)]
            hits = verified(item, suspects, self.threshold)
            if hits:
                m, o = hits[0]
                out.append(
                    Verdict(
                        round(1 - max(o.jaccard, o.containment), 6),
                        False,
                        "duplicate",
                        f"near copy of {_WHERE[m.where]} ({m.ref}): {o.jaccard:.0%} of words shared, "
                        f"{o.containment:.0%} of this answer found in it",
                        details={"matches": [_match_json(m, o) for m, o in hits[:5]]},
                    )
                )
            else:
                out.append(Verdict(1.0, True, rationale="no near copy found"))
        return out


@dataclass
class ContaminationCritic:
    """A copy of held-out data, whole, in part or lightly reworded, would leak the evaluation
    set into training."""

    name: ClassVar[str] = "contamination"
    version: ClassVar[str] = f"2.{minhash.VERSION}.{ngrams.VERSION}"
    kind: ClassVar[Kind] = "novelty"
    stage: ClassVar[int] = 2
    threshold: float = minhash.DEFAULT_THRESHOLD

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]:
        seen = corpus.sightings(items)
        grams = corpus.heldout_ngrams(items)
        near = corpus.near(items)
        out = []
        for item in items:
            found = ngrams.contamination(item.response, grams.get(item.id, {}))
            hits = verified(item, [m for m in near.get(item.id, []) if m.where == "heldout"], self.threshold)
            if "heldout" in seen.get(item.id, set()):
                why, details = "exact copy of held-out data", {}
            elif found:
                why = (
                    f"shares {found.shared} word sequences with held-out {found.example_ref}: "
                    f"{found.heldout_share:.0%} of that answer, {found.candidate_share:.0%} of this one"
                )
                details = {"heldout": found.example_ref, "shared": found.shared}
            elif hits:
                m, o = hits[0]
                why = f"near copy of held-out {m.ref}: {o.jaccard:.0%} of words shared"
                details = {"matches": [_match_json(m, o) for m, o in hits[:5]]}
            else:
                out.append(Verdict(1.0, True, rationale="no overlap with held-out data"))
                continue
            out.append(Verdict(0.0, False, "contamination", why, ("duplicate",), details))
        return out


def verified(item: Item, suspects: Sequence[Match], threshold: float) -> list[tuple[Match, minhash.Overlap]]:
    """The suspects that really are near copies of the item, closest first."""
    hits = []
    for m in suspects:
        o = minhash.overlap(item.response, m.text)
        if minhash.is_near_duplicate(o, threshold):
            hits.append((m, o))
    hits.sort(key=lambda h: -max(h[1].jaccard, h[1].containment))
    return hits


def _match_json(m: Match, o: minhash.Overlap) -> dict:
    return {
        "where": m.where,
        "ref": m.ref,
        "jaccard": round(o.jaccard, 4),
        "containment": round(o.containment, 4),
        "text": m.text[:300],
    }
