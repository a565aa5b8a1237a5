from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from workers.critics.base import Corpus, Item, Kind, Verdict

# Assistant boilerplate that refuses or disclaims instead of answering.
_PATTERNS = [
    r"\bas an ai\b",
    r"\bas a(?:n)? (?:ai )?language model\b",
    r"\bi(?:'m| am) (?:not able|unable) to (?:assist|help|provide|answer|comply)",
    r"\bi can(?:not|'t|not) (?:assist|help|provide|answer|comply) (?:you )?with (?:that|this)",
    r"\bi(?:'m| am) sorry,? but i can(?:not|'t)",
    r"\bi (?:won't|will not) be able to (?:assist|help)",
]
_REFUSAL = re.compile("|".join(_PATTERNS), re.I)


@dataclass
class RefusalCritic:
    name: ClassVar[str] = "refusal"
    version: ClassVar[str] = "1"
    kind: ClassVar[Kind] = "form"
    stage: ClassVar[int] = 1

    def judge(self, items: Sequence[Item], corpus: Corpus) -> list[Verdict]:
        out = []
        for item in items:
            # Models often write the typographic apostrophe U+2019 ("I\u2019m sorry, but I can\u2019t").
            m = _REFUSAL.search(item.response.replace("\u2019", "'"))
            if m:
                out.append(Verdict(0.0, False, "refusal", f"refusal phrase: {m.group(0)!r}"))
            else:
                out.append(Verdict(1.0, True))
        return out
