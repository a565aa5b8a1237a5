"""The GGUF to Hugging Face folder converter, on the shipped SmolLM2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from workers.generation.convert import MARKER, convert
from workers.generation.models import DEFAULT_MODEL, resolve_model

CHAT = [{"role": "user", "content": "What is green tea?"}]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "workers.generation.convert", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="session")
def smollm2_folder(tmp_path_factory) -> Path:
    # The same folder as test_openai_backend.py's fixture: the converter is idempotent, so
    # whichever module comes first converts and the other finds it complete.
    return convert(tmp_path_factory.getbasetemp() / "smollm2-hf-float32", dtype="float32")


@pytest.mark.slow
def test_the_converted_folder_decodes_greedily_like_the_gguf(smollm2_folder):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    files = resolve_model(DEFAULT_MODEL)
    tokenizer = AutoTokenizer.from_pretrained(smollm2_folder)
    assert tokenizer.pad_token is not None and tokenizer.chat_template
    converted = AutoModelForCausalLM.from_pretrained(smollm2_folder)
    assert getattr(converted.config, "quantization_config", None) is None
    original = AutoModelForCausalLM.from_pretrained(
        files.folder, gguf_file=files.gguf_file, dtype=torch.float32
    )
    prompt = tokenizer.apply_chat_template(
        CHAT, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    greedy = {"do_sample": False, "max_new_tokens": 12, "pad_token_id": tokenizer.pad_token_id}
    outputs = []
    with torch.inference_mode():
        for model in (converted, original):
            out = model.generate(**prompt, **greedy)
            outputs.append(out[0, prompt["input_ids"].shape[1] :].tolist())
    assert outputs[0] == outputs[1]
    assert len(tokenizer.decode(outputs[0], skip_special_tokens=True).split()) >= 2  # real words, not noise


@pytest.mark.slow
def test_the_cli_reports_a_complete_folder_without_rebuilding_it(smollm2_folder):
    weights = smollm2_folder / "model.safetensors"
    before = weights.stat().st_mtime_ns
    done = run_cli(str(smollm2_folder), "--dtype", "float32")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(smollm2_folder.resolve())
    assert weights.stat().st_mtime_ns == before and (smollm2_folder / MARKER).is_file()


@pytest.mark.slow
def test_the_cli_will_not_silently_keep_a_folder_of_another_dtype(smollm2_folder):
    done = run_cli(str(smollm2_folder), "--dtype", "bfloat16")
    assert done.returncode == 1 and "--force" in done.stderr and done.stdout == ""


def test_the_cli_fails_on_one_line_without_a_traceback(tmp_path):
    done = run_cli(str(tmp_path / "out"), "--model", str(tmp_path / "missing.gguf"))
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and "not found" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_the_cli_refuses_a_model_that_is_already_a_hugging_face_folder(tmp_path, tiny_model):
    done = run_cli(str(tmp_path / "out"), "--model", tiny_model)
    assert done.returncode == 1 and "already a Hugging Face model folder" in done.stderr
