"""The vLLM backend against the real engine: runs on a GPU machine with the `gpu`
extra installed, skips cleanly anywhere else (CI has no GPU)."""

from __future__ import annotations

import os

import pytest

from workers.generation import SamplingParams

pytestmark = pytest.mark.gpu


def _gpu_or_skip() -> str:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here")
    pytest.importorskip("vllm")
    model = os.environ.get("ASSAY_VLLM_TEST_MODEL")
    if not model:
        pytest.skip("set ASSAY_VLLM_TEST_MODEL to a local Hugging Face model folder")
    return model


def test_vllm_generates_one_seeded_output_per_conversation():
    from workers.generation.vllm import VLLMBackend

    backend = VLLMBackend(_gpu_or_skip(), enforce_eager=True, gpu_memory_utilization=0.3)
    chats = [[{"role": "user", "content": f"Write a question about tea number {i}."}] for i in range(4)]
    params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=32)
    first = backend.generate(chats, params, [1, 2, 3, 4])
    again = backend.generate(chats, params, [1, 2, 3, 4])
    assert [g.text for g in first] == [g.text for g in again]
    assert [g.seed for g in first] == [1, 2, 3, 4]
    assert all(0 < g.tokens <= 32 for g in first)
