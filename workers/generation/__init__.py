"""Generation engines behind a small registry: adding a backend is adding one file
and one line here. Heavy imports happen only when a backend is first used."""

from __future__ import annotations

import importlib
import json
import os
import threading
from typing import Any

from workers.generation.base import Backend, Generation, GenerationError, Message, SamplingParams
from workers.generation.models import DEFAULT_MODEL

BACKENDS = {
    "openai": "workers.generation.openai:OpenAIBackend",
    "transformers": "workers.generation.transformers:TransformersBackend",
    "vllm": "workers.generation.vllm:VLLMBackend",
}
VLLM_ARGS_ENV = "ASSAY_VLLM_ARGS"

_Key = tuple[str, str, str]  # (backend, model, options as canonical JSON)
_engines: dict[_Key, Backend] = {}
_lock = threading.Lock()


def get_backend(name: str, model: str, **options: Any) -> Backend:
    """The process-wide engine for (backend, model, options), loaded once per worker process.

    `options` are the backend's keyword arguments (for openai: base_url, api_key_env,
    concurrency, timeout_s, max_retries). A process runs at most one vLLM engine (it
    takes the GPU) and keeps at most one transformers model in memory."""
    if name not in BACKENDS:
        known = ", ".join(sorted(BACKENDS))
        raise GenerationError(
            f"unknown or unavailable generation backend {name!r} (available: {known})", permanent=True
        )
    key = (name, model, json.dumps(options, sort_keys=True, default=repr))
    with _lock:
        if key in _engines:
            return _engines[key]
        same_kind = [k for k in _engines if k[0] == name]
        if name == "vllm":
            options = {**_vllm_args_from_env(), **options}
            if same_kind:
                running = same_kind[0][1]
                what = f"model {model!r}" if running != model else f"{model!r} with other engine options"
                raise GenerationError(
                    f"this worker process already runs vLLM model {running!r}; vLLM runs one engine per "
                    f"process, so {what} cannot load here: campaigns of another model need their own "
                    "worker queue (set generator.queue in the campaign config and start a worker with "
                    "-Q <queue>)",
                    permanent=True,
                )
        if name == "transformers":
            # Memory stays bounded: the previous model goes before the next one loads. A
            # generate call still running on it keeps its own reference until it ends.
            for k in same_kind:
                del _engines[k]
        module, cls = BACKENDS[name].split(":")
        _engines[key] = getattr(importlib.import_module(module), cls)(model, **options)
        return _engines[key]


def _vllm_args_from_env() -> dict[str, Any]:
    raw = os.environ.get(VLLM_ARGS_ENV, "").strip()
    if not raw:
        return {}
    try:
        args = json.loads(raw)
    except ValueError as e:
        raise GenerationError(f"{VLLM_ARGS_ENV} is not valid JSON: {e}", permanent=True) from e
    if not isinstance(args, dict):
        raise GenerationError(
            f'{VLLM_ARGS_ENV} must be a JSON object of vLLM engine arguments, e.g. {{"max_num_seqs": 256}}',
            permanent=True,
        )
    return args


__all__ = [
    "BACKENDS",
    "DEFAULT_MODEL",
    "VLLM_ARGS_ENV",
    "Backend",
    "Generation",
    "GenerationError",
    "Message",
    "SamplingParams",
    "get_backend",
]
