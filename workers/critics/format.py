from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from workers.critics.base import Corpus, Item, Verdict


@dataclass
class FormatCritic:
    """A sample needs a question and an answer; generated text that could not be
    parsed into both arrives here with an empty side."""

    name: ClassVar[str] = "format"
    version: ClassVar[str] = "1"

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]:
        out = []
        for item in items:
            missing = [
                side
                for side, text in (("prompt", item.prompt), ("response", item.response))
                if not text.strip()
            ]
            if missing:
                out.append(Verdict(0.0, False, "format", "no " + " and no ".join(missing)))
            else:
                out.append(Verdict(1.0, True))
        return out
