"""Campaigns for the diversity tests: real human answers (the Python FAQ) as the source,
and candidates that are either more of the same real data (healthy) or paraphrases of three
answers (collapsed). Candidates are set in review directly: the critics are tested elsewhere,
and the diversity figures count whatever the critics are done with."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

FAQ = Path(__file__).resolve().parents[2] / "curation" / "demo" / "data" / "python_faq.jsonl"


def faq_rows() -> list[dict]:
    return [json.loads(line) for line in FAQ.open(encoding="utf-8")]


def collapsed_rows(depths=(1, 2)) -> list[dict]:
    base = faq_rows()[:3]
    return [
        {
            "prompt": f"{b['prompt']} (variant {i})",
            "response": b["response"] + " Indeed." * (i % 3),
            "generation_depth": depths[i % len(depths)],
        }
        for i in range(30)
        for b in base
    ]


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _evaluate_at_once(monkeypatch):
    """These tests read the figures right after each update: no waiting between evaluations
    (test_a_busy_campaign_is_evaluated_at_most_every_few_seconds checks the wait itself)."""
    from datetime import timedelta

    from curation.metrics import services

    monkeypatch.setattr(services, "EVALUATE_EVERY", timedelta(0))


@pytest.fixture
def faq_source(db, tmp_path):
    from curation.sources.services import examples_import

    rows = [{**r, "prompt": f"<i>{r['prompt']}</i>"} for r in faq_rows()[::2]]  # markup: escaped on pages
    examples_import(
        path=write(tmp_path / "faq.jsonl", rows), source_name="faq", split="train", license="PSF-2.0"
    )


def make_campaign(slug: str, rows: list[dict], tmp_path: Path, **config):
    from curation.campaigns.config import parse_config
    from curation.campaigns.imports import candidates_import
    from curation.campaigns.models import CandidateStatus
    from curation.campaigns.services import campaign_create_or_update

    campaign, _ = campaign_create_or_update(
        config=parse_config({"slug": slug, "source": "faq", "count": len(rows), **config})
    )
    candidates_import(path=write(tmp_path / f"{slug}.jsonl", rows), campaign=campaign)
    campaign.candidates.update(status=CandidateStatus.IN_REVIEW)
    return campaign


@pytest.fixture
def healthy(faq_source, tmp_path):
    rows = [{"prompt": r["prompt"], "response": r["response"]} for r in faq_rows()[1::2]]
    return make_campaign("healthy", rows, tmp_path)


@pytest.fixture
def collapsed(faq_source, tmp_path):
    return make_campaign("collapsed", collapsed_rows(), tmp_path)


@pytest.fixture(scope="package", autouse=True)
def _encode_each_text_once():
    """The real MiniLM, each distinct text encoded once while these tests run: they import the
    same FAQ answers again and again, and on 2 cores the model is most of their time. The
    encoder is given back untouched when the package's tests are done."""
    import numpy as np

    from workers.critics import embeddings

    encoder = embeddings.get_encoder()
    real = encoder.encode
    seen: dict[str, np.ndarray] = {}

    def encode(texts, batch_size: int = 64):
        if isinstance(texts, str):
            return real(texts)  # refused by the real encoder
        texts = list(texts)
        missing = [t for t in dict.fromkeys(texts) if t not in seen]
        if missing:
            seen.update(zip(missing, real(missing, batch_size), strict=True))
        return np.stack([seen[t] for t in texts]) if texts else real(texts)

    encoder.encode = encode
    yield
    encoder.encode = real
