from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from workers.critics.base import Corpus, Item, Verdict
from workers.critics.text import words


@dataclass
class LengthCritic:
    """Too-short answers carry no signal; very long ones are usually run-on output."""

    name: ClassVar[str] = "length"
    version: ClassVar[str] = "1"
    min_words: int = 5
    max_words: int = 2000

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]:
        out = []
        for item in items:
            n = len(words(item.response))
            if n < self.min_words:
                out.append(
                    Verdict(n / self.min_words, False, "length", f"{n} words, fewer than {self.min_words}")
                )
            elif n > self.max_words:
                out.append(
                    Verdict(self.max_words / n, False, "length", f"{n} words, more than {self.max_words}")
                )
            else:
                out.append(Verdict(1.0, True, rationale=f"{n} words"))
        return out
