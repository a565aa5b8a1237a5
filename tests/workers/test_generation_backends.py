from __future__ import annotations

import pytest

from workers.generation import GenerationError, SamplingParams, get_backend
from workers.generation.models import DEFAULT_MODEL, resolve_model

CHAT = [{"role": "user", "content": "Name one kind of tea."}]


def test_it_finds_the_packaged_smollm2_gguf_without_importing_its_package():
    files = resolve_model(DEFAULT_MODEL)
    assert files.gguf_file and files.gguf_file.startswith("SmolLM2-135M-Instruct")


def test_it_refuses_a_model_it_cannot_find_offline():
    with pytest.raises(GenerationError) as e:
        resolve_model("HuggingFaceTB/SmolLM2-1.7B-Instruct")
    assert e.value.permanent and "not found" in str(e.value)


def test_it_refuses_an_unknown_backend_permanently():
    with pytest.raises(GenerationError) as e:
        get_backend("llamafile", DEFAULT_MODEL)
    assert e.value.permanent and "available: transformers, vllm" in str(e.value)


def test_vllm_fails_cleanly_where_it_cannot_run(tiny_model):
    pytest.importorskip("torch")
    try:
        import vllm  # noqa: F401

        pytest.skip("vLLM is installed here: the GPU contract test covers it")
    except ImportError:
        pass
    with pytest.raises(GenerationError) as e:
        get_backend("vllm", tiny_model)
    assert e.value.permanent and "gpu extra" in str(e.value)


def test_the_transformers_backend_samples_reproducibly_per_seed(tiny_model):
    backend = get_backend("transformers", tiny_model)
    params = SamplingParams(temperature=1.0, top_p=0.9, max_tokens=6)
    first = backend.generate([CHAT, CHAT], params, [11, 12])
    again = backend.generate([CHAT, CHAT], params, [11, 12])
    other = backend.generate([CHAT, CHAT], params, [99, 100])
    assert [g.text for g in first] == [g.text for g in again]
    assert [g.text for g in first] != [g.text for g in other]
    assert all(g.tokens <= 6 and g.finish_reason in ("stop", "length") for g in first)
    assert get_backend("transformers", tiny_model) is backend  # one engine per process


@pytest.mark.slow
def test_smollm2_answers_a_chat_prompt_on_the_cpu():
    backend = get_backend("transformers", DEFAULT_MODEL)
    [out] = backend.generate([CHAT], SamplingParams(temperature=0.0, max_tokens=24), [0])
    assert out.tokens > 0 and len(out.text.split()) >= 2
    assert out.seed == 0
