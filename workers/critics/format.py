from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from workers.critics.base import Corpus, Item, Kind, Verdict

# Template scaffolding that leaked into the sample: `<question>: ...`, `{{ answer }}`,
# `{prompt}`, `[INSERT QUESTION]`. Real prose rarely holds these shapes.
_PLACEHOLDER = re.compile(
    r"<\s*/?\s*(?:question|answer|prompt|response|instruction|input|output|user|assistant)\s*>"
    r"|\{\{[^{}]{0,60}\}\}|\{(?:question|answer|prompt|response|instruction)\}"
    r"|\[(?:insert|your)[^\]]{0,40}\]",
    re.I,
)
# A generated text that holds its own question/answer labels was not split into a sample:
# "Q: ... A: ..." in one field, or an answer that goes on to ask the next question.
_QA_LABEL = re.compile(r"^\s*(?:\*\*)?(?:q|question|a|answer)(?:\*\*)?\s*:", re.I | re.M)
_Q_LABEL = re.compile(r"^\s*(?:\*\*)?(?:q|question)(?:\*\*)?\s*:", re.I | re.M)


@dataclass
class FormatCritic:
    """A sample needs a question and an answer, each free of template scaffolding and of
    the other's labels. The rationale names what is really wrong, with the offending text."""

    name: ClassVar[str] = "format"
    version: ClassVar[str] = "2"
    kind: ClassVar[Kind] = "form"
    stage: ClassVar[int] = 1

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]:
        out = []
        for item in items:
            problems = _problems(item.prompt, item.response)
            if problems:
                out.append(Verdict(0.0, False, "format", "; ".join(problems)))
            else:
                out.append(Verdict(1.0, True, rationale="a question and an answer"))
        return out


def _problems(prompt: str, response: str) -> list[str]:
    problems = []
    for side, text in (("prompt", prompt), ("response", response)):
        if not text.strip():
            other = response if side == "prompt" else prompt
            if _QA_LABEL.match(other):
                problems.append(
                    f"empty {side}: the question and answer were not split apart "
                    f"(the {'response' if side == 'prompt' else 'prompt'} starts with {_head(other)!r})"
                )
            else:
                problems.append(f"empty {side}")
            continue
        m = _PLACEHOLDER.search(text)
        if m:
            problems.append(f"template placeholder {m.group(0)!r} left in the {side}")
        unsplit = not prompt.strip()  # reported above as one problem, not twice
        if side == "response" and not unsplit and (q := _Q_LABEL.search(text)):
            problems.append(f"the response goes on to another question ({_head(text[q.start() :])!r})")
        elif side == "prompt" and len(_QA_LABEL.findall(text)) > 1:
            problems.append(f"the prompt holds several question/answer labels ({_head(text)!r})")
    return problems


def _head(text: str, n: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
