"""Turning a model's free text into a (prompt, response) pair.

Model output is untrusted: a text without a clear question and answer becomes a
`format` failure for the critics, never a guess presented as data."""

from __future__ import annotations

import re

# Bold may close before or after the colon ("**Q:**" and "**Question**:"); models write both.
# The one-letter markers are upper case only: "a) ..." or "a. ..." inside an answer is a
# list item, and matching it would cut the answer short without a trace.
_Q = re.compile(r"^\s*(?:\*\*)?(?:Q|(?i:question))\s*(?:\d+)?\s*(?:\*\*)?\s*[:.)]\s*(?:\*\*)?\s*", re.M)
_A = re.compile(r"^\s*(?:\*\*)?(?:A|(?i:answer))\s*(?:\d+)?\s*(?:\*\*)?\s*[:.)]\s*(?:\*\*)?\s*", re.M)


def parse_pair(text: str) -> tuple[str, str] | None:
    """The first question and the answer that follows it, or None.

    Accepts "Q: ... A: ..." and "Question: ... Answer: ..." (markdown bold too); the
    answer ends where a next question or answer marker starts."""
    q = _Q.search(text)
    a = _A.search(text, q.end() if q else 0)
    if a is None:
        return None
    question = text[q.end() : a.start()] if q else text[: a.start()]
    rest = text[a.end() :]
    stop = [m.start() for m in (_Q.search(rest), _A.search(rest)) if m]
    answer = rest[: min(stop)] if stop else rest
    question, answer = _tidy(question), _tidy(answer)
    # Small models stutter the marker ("Q: Q: Why ..."): the question is what follows it.
    while (m := _Q.match(question)) and m.end() < len(question):
        question = question[m.end() :]
    if not question or not answer:
        return None
    return question, answer


def _tidy(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text).strip().strip("`").strip()
