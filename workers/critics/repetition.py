from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from workers.critics.base import Corpus, Item, Kind, Verdict
from workers.critics.text import words


def repeated_ngram_share(tokens: list[str], n: int) -> float:
    """Share of the text's n-grams that repeat an earlier one (0 for varied text)."""
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    return 1 - len(set(grams)) / len(grams)


@dataclass
class RepetitionCritic:
    """Degenerate loops ("A mirror is a copy. A mirror is a copy. ...") are a
    collapse symptom: fluent, hollow, repetitive."""

    name: ClassVar[str] = "repetition"
    version: ClassVar[str] = "1"
    kind: ClassVar[Kind] = "form"
    stage: ClassVar[int] = 1
    n: int = 3
    max_share: float = 0.3

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"n must be at least 1, not {self.n}")
        if not 0 <= self.max_share <= 1:
            raise ValueError(f"max_share must be between 0 and 1, not {self.max_share}")

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]:
        out = []
        for item in items:
            share = repeated_ngram_share(words(item.response), self.n)
            why = f"{share:.0%} of {self.n}-grams repeat"
            passed = share <= self.max_share
            out.append(Verdict(1 - share, passed, "" if passed else "repetition", why))
        return out
