"""The vLLM backend against the real engine: runs on a GPU machine with the `gpu`
extra installed, skips cleanly anywhere else (CI has no GPU).

ASSAY_VLLM_TEST_MODEL names a local Hugging Face model folder, for example the one
`make hf-model` writes (var/models/smollm2-135m-instruct)."""

from __future__ import annotations

import json
import os

import pytest

from workers.generation import GenerationError, SamplingParams, get_backend

pytestmark = pytest.mark.gpu

ENGINE = {"enforce_eager": True, "gpu_memory_utilization": 0.3}


def _gpu_or_skip() -> str:
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here")
    pytest.importorskip("vllm")
    model = os.environ.get("ASSAY_VLLM_TEST_MODEL")
    if not model:
        pytest.skip("set ASSAY_VLLM_TEST_MODEL to a local Hugging Face model folder")
    return model


@pytest.fixture(scope="module")
def model() -> str:
    return _gpu_or_skip()


@pytest.fixture(scope="module")
def backend(model):
    # Through the registry, as workers get it: the one engine this process may hold.
    return get_backend("vllm", model, **ENGINE)


def test_vllm_generates_one_seeded_output_per_conversation(backend):
    chats = [[{"role": "user", "content": f"Write a question about tea number {i}."}] for i in range(4)]
    params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=32)
    first = backend.generate(chats, params, [1, 2, 3, 4])
    again = backend.generate(chats, params, [1, 2, 3, 4])
    assert [g.text for g in first] == [g.text for g in again]
    assert [g.seed for g in first] == [1, 2, 3, 4]
    assert all(0 < g.tokens <= 32 for g in first)


def test_vllm_decodes_json_that_matches_the_schema(backend):
    jsonschema = pytest.importorskip("jsonschema")
    schema = {
        "type": "object",
        # Bounded strings: a small model may otherwise ramble inside one until max_tokens.
        "properties": {
            "question": {"type": "string", "maxLength": 80},
            "answer": {"type": "string", "maxLength": 80},
        },
        "required": ["question", "answer"],
        "additionalProperties": False,
    }
    chats = [
        [{"role": "user", "content": f"Write a question and answer about tea, as JSON ({i})."}]
        for i in range(3)
    ]
    params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=200, json_schema=schema)
    for out in backend.generate(chats, params, [5, 6, 7]):
        assert out.finish_reason == "stop", out.text  # a JSON cut short by max_tokens would not parse
        jsonschema.validate(json.loads(out.text), schema)


def test_one_process_refuses_a_second_vllm_engine(backend, model):
    assert get_backend("vllm", model, **ENGINE) is backend
    for other in ({"model": "/models/another-model", **ENGINE}, {"model": model, "enforce_eager": False}):
        with pytest.raises(GenerationError) as e:
            get_backend("vllm", **other)
        assert e.value.permanent and "already runs vLLM model" in str(e.value) and "-Q" in str(e.value)
