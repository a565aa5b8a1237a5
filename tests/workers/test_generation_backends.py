from __future__ import annotations

import pytest

from workers.generation import VLLM_ARGS_ENV, GenerationError, SamplingParams, get_backend
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
    assert e.value.permanent and "available: openai, transformers, vllm" in str(e.value)


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


def test_each_row_samples_with_its_own_seed_whatever_its_neighbours(tiny_model):
    backend = get_backend("transformers", tiny_model)
    params = SamplingParams(temperature=1.0, top_p=0.9, max_tokens=8)
    with_12 = backend.generate([CHAT, CHAT], params, [11, 12])
    with_99 = backend.generate([CHAT, CHAT], params, [11, 99])
    alone = backend.generate([CHAT], params, [11])
    assert with_12[0].text == with_99[0].text == alone[0].text
    # Same prompt, different seeds: different samples, and each output reports its own seed.
    assert len({with_12[0].text, with_12[1].text, with_99[1].text}) == 3
    assert [g.seed for g in with_12] == [11, 12] and [g.seed for g in with_99] == [11, 99]


def test_temperature_zero_stays_greedy_whatever_the_seed(tiny_model):
    backend = get_backend("transformers", tiny_model)
    params = SamplingParams(temperature=0.0, max_tokens=6)
    outputs = backend.generate([CHAT, CHAT], params, [1, 2])
    assert outputs[0].text == outputs[1].text
    assert [g.seed for g in outputs] == [1, 2]


def test_the_transformers_backend_refuses_guided_json_permanently(tiny_model):
    backend = get_backend("transformers", tiny_model)
    params = SamplingParams(json_schema={"type": "object"})
    with pytest.raises(GenerationError) as e:
        backend.generate([CHAT], params, [0])
    assert e.value.permanent and "vllm or openai" in str(e.value)


def test_sampling_params_with_a_schema_compare_by_value_and_still_hash():
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    one, two = SamplingParams(json_schema=schema), SamplingParams(json_schema=dict(schema))
    assert one == two and hash(one) == hash(two)
    assert one != SamplingParams(json_schema={"type": "array"}) and one != SamplingParams()


def test_the_registry_keeps_one_transformers_model_per_process(tiny_model, tmp_path):
    import shutil

    first = get_backend("transformers", tiny_model)
    twin = shutil.copytree(tiny_model, tmp_path / "twin")
    second = get_backend("transformers", str(twin))
    assert second is not first
    # The first was dropped, not kept alongside: asking again loads it afresh.
    assert get_backend("transformers", tiny_model) is not first


def test_the_registry_refuses_bad_vllm_engine_args_naming_the_variable(tiny_model, monkeypatch):
    for bad in ("{gpu_memory_utilization: 0.9", '["enforce_eager"]'):
        monkeypatch.setenv(VLLM_ARGS_ENV, bad)
        with pytest.raises(GenerationError) as e:
            get_backend("vllm", tiny_model)
        assert e.value.permanent and VLLM_ARGS_ENV in str(e.value)


def test_openai_options_are_part_of_the_engine_key():
    one = get_backend("openai", "m", base_url="http://127.0.0.1:9/v1", concurrency=2)
    assert get_backend("openai", "m", concurrency=2, base_url="http://127.0.0.1:9/v1") is one
    other = get_backend("openai", "m", base_url="http://127.0.0.1:9/v1", concurrency=3)
    assert other is not one and other.concurrency == 3


@pytest.mark.slow
def test_smollm2_answers_a_chat_prompt_on_the_cpu():
    backend = get_backend("transformers", DEFAULT_MODEL)
    [out] = backend.generate([CHAT], SamplingParams(temperature=0.0, max_tokens=24), [0])
    assert out.tokens > 0 and len(out.text.split()) >= 2
    assert out.seed == 0
