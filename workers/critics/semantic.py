from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from workers.critics import embeddings
from workers.critics.base import Corpus, Item, Kind, Verdict

_NAMES = {"real": "real", "approved": "approved", "candidate": "earlier candidate", "heldout": "held-out"}


@dataclass
class SemanticCritic:
    """Meaning, not words: an answer whose MiniLM embedding is nearly the same as a stored
    one says the same thing again. Its score is novelty (1 - the highest similarity to real,
    approved or earlier data), and the nearest neighbours are kept for the review page."""

    name: ClassVar[str] = "semantic"
    version: ClassVar[str] = "1." + embeddings.VERSION
    kind: ClassVar[Kind] = "novelty"
    stage: ClassVar[int] = 2
    threshold: float = embeddings.SEMANTIC_DUPLICATE

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], not {self.threshold}")

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]:
        found = corpus.neighbours(items, self.threshold)
        out = []
        for item in items:
            near = sorted(found.get(item.id, []), key=lambda m: -m.similarity)
            nearest: dict[str, dict] = {}
            for m in near:
                nearest.setdefault(
                    m.where, {"ref": m.ref, "similarity": round(m.similarity, 4), "text": m.text[:300]}
                )
            top = max((m.similarity for m in near), default=0.0)
            parts = [f"nearest {_NAMES[w]}: {n['ref']} ({n['similarity']:.2f})" for w, n in nearest.items()]
            rationale = "; ".join(parts) or "no stored text to compare with"
            details = {"nearest": nearest}
            same = [m for m in near if m.similarity >= self.threshold]
            score = round(max(0.0, 1 - top), 6)
            if any(m.where == "heldout" for m in same):
                m = next(m for m in same if m.where == "heldout")
                out.append(
                    Verdict(
                        score,
                        False,
                        "contamination",
                        f"says the same as held-out {m.ref} (cosine {m.similarity:.2f}); " + rationale,
                        ("duplicate",),
                        details,
                    )
                )
            elif same:
                m = same[0]
                out.append(
                    Verdict(
                        score,
                        False,
                        "duplicate",
                        f"says the same as {_NAMES[m.where]} {m.ref} (cosine {m.similarity:.2f})",
                        details=details,
                    )
                )
            else:
                out.append(Verdict(score, True, rationale=rationale, details=details))
        return out
