"""vLLM's offline engine on a GPU worker: one engine per worker process.

vLLM is the optional `gpu` extra; without it (or without a GPU) the backend fails
with a permanent error, so the campaign fails cleanly instead of retrying."""

from __future__ import annotations

from typing import ClassVar

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

        per_request = [
            VLLMParams(
                temperature=params.temperature,
                top_p=params.top_p,
                max_tokens=params.max_tokens,
                seed=seed,
            )
            for seed in seeds
        ]
        outputs = self.llm.chat(conversations, per_request, use_tqdm=False)
        return [
            Generation(
                text=o.outputs[0].text.strip(),
                tokens=len(o.outputs[0].token_ids),
                finish_reason="length" if o.outputs[0].finish_reason == "length" else "stop",
                seed=seed,
            )
            for o, seed in zip(outputs, seeds, strict=True)
        ]
