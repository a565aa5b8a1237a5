from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from workers.critics.base import Corpus, Item, Kind, Verdict
from workers.critics.text import words


@dataclass
class LengthCritic:
    """Too-short answers carry no signal; very long ones are usually run-on output."""

    name: ClassVar[str] = "length"
    version: ClassVar[str] = "1"
    kind: ClassVar[Kind] = "form"
    stage: ClassVar[int] = 1
    min_words: int = 5
    max_words: int = 2000

    def __post_init__(self) -> None:
        if self.min_words < 0 or self.max_words < max(self.min_words, 1):
            raise ValueError(f"need 0 <= min_words <= max_words, got {self.min_words} and {self.max_words}")

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]:
        out = []
        for item in items:
            n = len(words(item.response))
            count = f"{n} word{'' if n == 1 else 's'}"  # the rationale is shown to reviewers
            if n < self.min_words:
                out.append(
                    Verdict(n / self.min_words, False, "length", f"{count}, fewer than {self.min_words}")
                )
            elif n > self.max_words:
                out.append(
                    Verdict(self.max_words / n, False, "length", f"{count}, more than {self.max_words}")
                )
            else:
                out.append(Verdict(1.0, True, rationale=count))
        return out
