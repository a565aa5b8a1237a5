from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from workers.critics.base import Corpus, Item, Kind, Verdict

# Words a finished sentence does not end on: an answer ending "... and the" was cut off.
_DANGLING = {
    "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "for", "with", "by", "from",
    "as", "at", "is", "are", "was", "be", "that", "which", "if", "then", "than", "because",
}  # fmt: skip
_LAST_WORD = re.compile(r"(\w+)\W*$")


@dataclass
class TruncationCritic:
    """An answer cut off by max_tokens (the generator reports finish_reason "length"), or one
    that visibly stops mid-way: an unclosed code block, a trailing comma or colon, a last word
    no sentence ends on. Imported candidates have no finish reason, so the text is read too."""

    name: ClassVar[str] = "truncation"
    version: ClassVar[str] = "1"
    kind: ClassVar[Kind] = "form"
    stage: ClassVar[int] = 1

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]:
        out = []
        for item in items:
            why = _cut(item)
            if why:
                out.append(Verdict(0.0, False, "truncation", why))
            else:
                out.append(Verdict(1.0, True, rationale="ends cleanly"))
        return out


def stopped_in_answer(finish_reason: str, raw_output: str, response: str) -> str:
    """The finish reason as it concerns the answer: "length" only when the answer runs to the
    end of what the generator wrote. A model that finished its answer and went on rambling
    (a next "Q:") until max_tokens cut the ramble, not the answer the parser kept."""
    if finish_reason != "length" or not raw_output:
        return finish_reason
    tail = " ".join(response.split())[-40:]
    return "length" if " ".join(raw_output.split()).endswith(tail) else "stop"


def _cut(item: Item) -> str:
    text = item.response.rstrip()
    if item.finish_reason == "length":
        return "the generator stopped at max_tokens (finish_reason length): the answer is cut off"
    if not text:
        return ""  # the format critic reports an empty answer
    if text.count("```") % 2:
        return "a code block is opened and never closed"
    if text[-1] in ",:;(-[{":
        return f"ends on {text[-1]!r}, mid-sentence"
    m = _LAST_WORD.search(text)
    if m and text[-1].isalnum() and m.group(1).lower() in _DANGLING:
        return f"ends on {m.group(1)!r}, mid-sentence"
    return ""
