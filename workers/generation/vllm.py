"""vLLM's offline engine on a GPU worker: one engine per worker process.

vLLM is the optional `gpu` extra; without it (or without a GPU) the backend fails
with a permanent error, so the campaign fails cleanly instead of retrying."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from workers.generation.base import Generation, GenerationError, Message, SamplingParams
from workers.generation.models import resolve_model


class VLLMBackend:
    name: ClassVar[str] = "vllm"

    def __init__(self, model: str, **engine_args: object) -> None:
        files = resolve_model(model)
        if files.gguf_file:
            raise GenerationError(
                f"backend vllm needs a Hugging Face model folder, not the GGUF file of {model!r}",
                permanent=True,
            )
        try:
            from vllm import LLM
        except ImportError as e:
            raise GenerationError(
                "backend vllm is not installed here: install the gpu extra (pip install 'assay[gpu]') "
                "on a GPU worker",
                permanent=True,
            ) from e
        self.model = model
        try:
            self.llm = LLM(model=files.folder, **engine_args)
        except Exception as e:  # vLLM raises many types at start-up; none of them heals by retrying
            raise GenerationError(f"vLLM could not start {model!r}: {e}", permanent=True) from e

    def generate(
        self, conversations: list[list[Message]], params: SamplingParams, seeds: list[int]
    ) -> list[Generation]:
        from vllm import SamplingParams as VLLMParams

        schema = params.json_schema
        # One constraint object per request: vLLM records its decoding backend on it.
        per_request = [
            VLLMParams(
                temperature=params.temperature,
                top_p=params.top_p,
                max_tokens=params.max_tokens,
                seed=seed,
                **(_json_constraint(schema) if schema is not None else {}),
            )
            for seed in seeds
        ]
        try:
            outputs = self.llm.chat(conversations, per_request, use_tqdm=False)
        except ValueError as e:  # vLLM validates requests (a schema it cannot compile, a prompt too long)
            raise GenerationError(f"vLLM refused the request: {e}", permanent=True) from e
        return [
            Generation(
                text=o.outputs[0].text.strip(),
                tokens=len(o.outputs[0].token_ids),
                finish_reason="length" if o.outputs[0].finish_reason == "length" else "stop",
                seed=seed,
            )
            for o, seed in zip(outputs, seeds, strict=True)
        ]


def _json_constraint(schema: Mapping[str, Any]) -> dict[str, Any]:
    """SamplingParams keywords for JSON constrained to `schema`: `structured_outputs` in
    current vLLM (0.26 included), `guided_decoding` in the older releases that lack it."""
    try:
        from vllm.sampling_params import StructuredOutputsParams
    except ImportError:
        from vllm.sampling_params import GuidedDecodingParams

        return {"guided_decoding": GuidedDecodingParams(json=dict(schema))}
    return {"structured_outputs": StructuredOutputsParams(json=dict(schema))}
