"""The generation backend interface: plain Python, no Django, so engines can be
tested and benchmarked alone. A backend turns chat conversations into texts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

Message = dict[str, str]  # {"role": ..., "content": ...}


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.7
    top_p: float = 0.95
    max_tokens: int = 256


@dataclass(frozen=True)
class Generation:
    text: str
    tokens: int  # generated tokens, for throughput figures
    finish_reason: str  # "stop" or "length"
    seed: int  # the seed this output was sampled with


class GenerationError(Exception):
    """A backend failure. `permanent` ones (a missing model, a backend not installed)
    fail the campaign at once; the others are retried with backoff."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Backend(Protocol):
    name: ClassVar[str]
    model: str

    def generate(
        self, conversations: list[list[Message]], params: SamplingParams, seeds: list[int]
    ) -> list[Generation]:
        """One output per conversation, in order. `seeds[i]` seeds the i-th request where
        the backend seeds per request; each Generation reports the seed it really used."""
        ...
