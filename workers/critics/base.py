"""The critic interface: plain Python, no Django. A critic judges a batch of items
and returns one verdict per item; what it needs to know about stored data comes
through the `Corpus` it is given, never from a database of its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

# What a critic judges, so nobody reads a check of form as a judgement of quality:
# "form" checks the shape of the text, "novelty" compares it with stored data,
# "quality" judges whether it is a good answer (the LLM judge, the learned critic).
Kind = Literal["form", "novelty", "quality"]


@dataclass(frozen=True)
class Item:
    id: int
    prompt: str
    response: str
    text_key: str  # normalized response hash (workers/critics/text.py)
    finish_reason: str = ""  # "length": the generator stopped at max_tokens
    shots: tuple[str, ...] = ()  # the few-shot answers shown to the generator, when known


@dataclass(frozen=True)
class Verdict:
    score: float | None  # 0 worst .. 1 best; None: the critic could not tell
    passed: bool
    label: str = ""  # a reason word (CONTRACT "reasons") when it fails
    rationale: str = ""
    extra_labels: tuple[str, ...] = field(default=())  # more reasons, e.g. duplicate beside contamination
    details: Mapping[str, Any] = field(default_factory=dict)  # JSON for the page: matches, neighbours


@dataclass(frozen=True)
class Match:
    """A stored text an index found near an item. `where`: "real", "heldout", "approved" or
    "candidate" (an earlier candidate of the same campaign); `similarity` is what the
    index measured (estimated Jaccard for MinHash, cosine for embeddings)."""

    where: str
    ref: str
    text: str
    similarity: float


class Corpus(Protocol):
    """What the stored data knows about the items.

    `sightings`: exact copies, key -> where seen. `near`: MinHash LSH suspects (not yet
    verified). `heldout_ngrams`: per item, held-out example ref -> (n-gram hashes of the
    item found in it, that example's n-gram count). `neighbours`: per item, the nearest
    stored text by embedding for each `where`, plus any above the semantic threshold."""

    def sightings(self, items: Sequence[Item]) -> dict[int, set[str]]: ...

    def near(self, items: Sequence[Item]) -> dict[int, list[Match]]: ...

    def heldout_ngrams(self, items: Sequence[Item]) -> dict[int, dict[str, tuple[int, int]]]: ...

    def neighbours(self, items: Sequence[Item], threshold: float) -> dict[int, list[Match]]: ...


class Critic(Protocol):
    name: ClassVar[str]
    version: ClassVar[str]
    kind: ClassVar[Kind]
    stage: ClassVar[int]  # 1: cheap checks; 2: index lookups (only on survivors of stage 1)

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]: ...
