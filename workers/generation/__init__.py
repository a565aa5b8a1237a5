"""Generation engines behind a small registry: adding a backend is adding one file
and one line here. Heavy imports happen only when a backend is first used."""

from __future__ import annotations

import importlib
import threading

from workers.generation.base import Backend, Generation, GenerationError, Message, SamplingParams
from workers.generation.models import DEFAULT_MODEL

BACKENDS = {
    "transformers": "workers.generation.transformers:TransformersBackend",
    "vllm": "workers.generation.vllm:VLLMBackend",
}

_engines: dict[tuple[str, str], Backend] = {}
_lock = threading.Lock()


def get_backend(name: str, model: str) -> Backend:
    """The process-wide engine for (backend, model): loaded once per worker process."""
    if name not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise GenerationError(
            f"unknown or unavailable generation backend {name!r} (available: {known})", permanent=True
        )
    key = (name, model)
    with _lock:
        if key not in _engines:
            module, cls = BACKENDS[name].split(":")
            _engines[key] = getattr(importlib.import_module(module), cls)(model)
        return _engines[key]


__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "Backend",
    "Generation",
    "GenerationError",
    "Message",
    "SamplingParams",
    "get_backend",
]
