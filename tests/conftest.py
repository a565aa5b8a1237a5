"""Shared fixtures: the personas (an admin, two experts, a viewer), real data files,
and an API client speaking JSON with bearer tokens."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from curation.accounts.services import token_create, user_create

# Fixtures of the export job and page tests (approved_tea, export_root) and the Argilla test
# server (argilla_server), for every folder.
pytest_plugins = ["tests.support.exports", "tests.support.argilla.server"]

DATA = Path(__file__).parent / "data"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness is for production logins, not for test personas.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttles live in the cache (per process, locmem): no test inherits another's.
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def alice(db):
    """An admin: configures campaigns and exports."""
    return user_create(username="alice", role="admin", password="alice-pass-123")


@pytest.fixture
def bob(db):
    """An expert: reviews."""
    return user_create(username="bob", role="expert", password="bob-pass-123")


@pytest.fixture
def erin(db):
    """A second expert, who competes with bob for leases."""
    return user_create(username="erin", role="expert", password="erin-pass-123")


@pytest.fixture
def charlie(db):
    """A viewer: reads only."""
    return user_create(username="charlie", role="viewer", password="charlie-pass-123")


class Api:
    """The HTTP API through Django's test client: (status, parsed JSON or None)."""

    def __init__(self, client) -> None:
        self.client = client

    def call(self, method: str, path: str, token: str | None = None, body: dict | None = None):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        kwargs = {"content_type": "application/json", "data": json.dumps(body)} if body is not None else {}
        response = getattr(self.client, method.lower())(path, headers=headers, **kwargs)
        raw = b"".join(response.streaming_content) if response.streaming else response.content
        try:
            return response.status_code, (json.loads(raw) if raw.strip() else None)
        except ValueError:
            return response.status_code, raw

    def get(self, path: str, token: str | None = None):
        return self.call("GET", path, token)

    def post(self, path: str, token: str | None = None, body: dict | None = None):
        return self.call("POST", path, token, body if body is not None else {})


@pytest.fixture
def api(client) -> Api:
    return Api(client)


@pytest.fixture
def token():
    return lambda user: token_create(username=user.username)


@pytest.fixture
def tea_sources(db):
    from curation.sources.services import examples_import

    examples_import(path=DATA / "tea_train.jsonl", source_name="tea", split="train", license="CC0-1.0")
    examples_import(
        path=DATA / "tea_heldout.jsonl", source_name="tea-heldout", split="heldout", license="CC0-1.0"
    )


@pytest.fixture
def tea_campaign(tea_sources):
    from curation.campaigns.config import parse_config
    from curation.campaigns.services import campaign_create_or_update

    config = parse_config(
        {"slug": "tea", "source": "tea", "count": 4, "diversity": {"topic": ["brewing", "kinds"]}}
    )
    campaign, _ = campaign_create_or_update(config=config)
    return campaign


@pytest.fixture
def tea_in_review(tea_campaign):
    """tea_candidates.jsonl imported and scored synchronously: 4 good ones in review,
    a too-short one and a repetitive one auto-rejected."""
    from curation.campaigns.imports import candidates_import
    from curation.scoring.services import candidates_score

    candidates_import(path=DATA / "tea_candidates.jsonl", campaign=tea_campaign)
    candidates_score(candidate_ids=list(tea_campaign.candidates.values_list("id", flat=True)))
    return tea_campaign


def chromium_or_skip() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    if os.environ.get("ASSAY_REQUIRE_BROWSER"):
        pytest.fail("Chromium is required here (ASSAY_REQUIRE_BROWSER) but /usr/bin/chromium is missing")
    pytest.skip("Debian's chromium is not installed (make browser)")


def _model_folder(tmp_path_factory, name: str, build) -> str:
    """A small model with random weights and SmolLM2's real tokenizer, saved as a local
    model folder; `build(tokenizer)` makes the model."""
    from transformers import AutoTokenizer

    from workers.generation.models import resolve_model

    files = resolve_model("smollm2-135m-instruct")
    tokenizer = AutoTokenizer.from_pretrained(files.folder, gguf_file=files.gguf_file)
    folder = tmp_path_factory.mktemp(name)
    build(tokenizer).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    """A 2-layer Llama: the real transformers path in seconds (its text is noise)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    def build(tokenizer):
        torch.manual_seed(0)
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=2048,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        return LlamaForCausalLM(config)

    return _model_folder(tmp_path_factory, "tiny-llm", build)


@pytest.fixture(scope="session")
def broken_model(tmp_path_factory) -> str:
    """A real model that loads but crashes inside generate: a 1-layer GPT-2 whose position
    table holds 16 positions, so any real prompt indexes past it (an IndexError deep in
    torch), the way a CUDA out-of-memory error or a bug surfaces in a worker."""
    from transformers import GPT2Config, GPT2LMHeadModel

    def build(tokenizer):
        config = GPT2Config(
            vocab_size=len(tokenizer),
            n_positions=16,
            n_embd=32,
            n_layer=1,
            n_head=2,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        return GPT2LMHeadModel(config)

    return _model_folder(tmp_path_factory, "broken-llm", build)
