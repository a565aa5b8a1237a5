"""The critic interface: plain Python, no Django. A critic judges a batch of items
and returns one verdict per item; what it needs to know about stored data comes
through the `Corpus` it is given, never from a database of its own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol


@dataclass(frozen=True)
class Item:
    id: int
    prompt: str
    response: str
    text_key: str  # normalized response hash (workers/critics/text.py)


@dataclass(frozen=True)
class Verdict:
    score: float  # 0 worst .. 1 best
    passed: bool
    label: str = ""  # a reason word (CONTRACT "reasons") when it fails
    rationale: str = ""
    extra_labels: tuple[str, ...] = field(default=())  # more reasons, e.g. duplicate beside contamination


class Corpus(Protocol):
    """What the stored data knows about text keys. `sightings` maps each key found to
    where it was seen: "real", "heldout", "approved", or "candidate" (an earlier
    candidate of the same campaign, so the first copy is kept and later ones flagged)."""

    def sightings(self, items: Sequence[Item]) -> dict[int, set[str]]: ...


class Critic(Protocol):
    name: ClassVar[str]
    version: ClassVar[str]

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]: ...
