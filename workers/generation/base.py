"""The generation backend interface: plain Python, no Django, so engines can be
tested and benchmarked alone. A backend turns chat conversations into texts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

Message = dict[str, str]  # {"role": ..., "content": ...}


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256
    # A JSON schema: when set, the backend decodes only JSON that matches it (guided decoding).
    # Compared but not hashed: a schema is a dict, and hashing it would make the params unhashable.
    json_schema: Mapping[str, Any] | None = field(default=None, hash=False)


@dataclass(frozen=True)
class Generation:
    text: str
    tokens: int  # generated tokens, for throughput figures
    finish_reason: str  # "stop" or "length"
    seed: int  # the seed this output was sampled with


class GenerationError(Exception):
    """A backend failure. `permanent` ones (a missing model, a backend not installed)
    fail the campaign at once; the others are retried with backoff.

    `partial`, when set, has one entry per conversation of the failed call: the outputs
    that did succeed and None for the others, so the caller can keep them and retry only
    the rest."""

    def __init__(
        self, message: str, *, permanent: bool, partial: list[Generation | None] | None = None
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.partial = partial


class Backend(Protocol):
    name: ClassVar[str]
    model: str

    def generate(
        self, conversations: list[list[Message]], params: SamplingParams, seeds: list[int]
    ) -> list[Generation]:
        """One output per conversation, in order. `seeds[i]` seeds the i-th request where
        the backend seeds per request; each Generation reports the seed it really used."""
        ...
