from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from workers.critics.base import Corpus, Item, Verdict

_WHERE = {"real": "real data", "approved": "approved data", "candidate": "an earlier candidate"}


@dataclass
class DuplicateCritic:
    """Exact copies (case and spacing ignored) of real data, approved data or an earlier
    candidate of the campaign add nothing but weight to one sample."""

    name: ClassVar[str] = "duplicate"
    version: ClassVar[str] = "1"

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]:
        seen = corpus.sightings(items)
        out = []
        for item in items:
            where = sorted(seen.get(item.id, set()) & set(_WHERE))
            if where:
                out.append(Verdict(0.0, False, "duplicate", "copy of " + ", ".join(_WHERE[w] for w in where)))
            else:
                out.append(Verdict(1.0, True))
        return out


@dataclass
class ContaminationCritic:
    """A copy of held-out data would leak the evaluation set into training."""

    name: ClassVar[str] = "contamination"
    version: ClassVar[str] = "1"

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]:
        seen = corpus.sightings(items)
        out = []
        for item in items:
            if "heldout" in seen.get(item.id, set()):
                out.append(
                    Verdict(0.0, False, "contamination", "copy of held-out data", extra_labels=("duplicate",))
                )
            else:
                out.append(Verdict(1.0, True))
        return out
