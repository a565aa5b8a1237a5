"""`create_campaign CONFIG --preview N`: the first N prompts rendered, generated and judged
by the critics, printed; nothing stored, so a template can be tuned before a GPU hour is spent."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from curation.campaigns.models import Campaign, Candidate
from curation.generation.models import GenerationBatch


def write(tmp_path, text: str):
    path = tmp_path / "tea.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def config(model: str, source: str = "tea") -> str:
    return (
        f"slug: tea-preview\nsource: {source}\ncount: 10\nfewshot: 1\n"
        "diversity: {topic: [brewing, kinds]}\n"
        f"generator: {{model: '{model}', params: {{max_tokens: 8, seed: 5}}}}\n"
    )


def preview(path, n: int) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_campaign", str(path), "--preview", str(n), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_a_preview_prints_generated_and_judged_samples_and_stores_nothing(tea_sources, tiny_model, tmp_path):
    out, err = preview(write(tmp_path, config(tiny_model)), 3)
    assert "nothing is stored" in err
    assert [line for line in out.splitlines() if line.startswith("=== sample")] == [
        "=== sample 1 of 3 (topic: brewing)",
        "=== sample 2 of 3 (topic: kinds)",
        "=== sample 3 of 3 (topic: brewing)",
    ]
    assert out.count("--- rendered prompt") == 3 and "Q: " in out  # the few-shot example as rendered
    assert (
        out.count("--- cheap critics (form, exact copies): format") == 3 and out.count("--- verdict: ") == 3
    )
    assert "seed 5)" in out and "seed 7)" in out  # each sample's own seed
    assert out.strip().endswith("run when the campaign runs. Nothing was stored")
    assert not Campaign.objects.exists() and not Candidate.objects.exists()
    assert not GenerationBatch.objects.exists()


def test_a_preview_refuses_what_a_campaign_would_refuse(tea_sources, tiny_model, tmp_path):
    with pytest.raises(CommandError, match="source: no source named 'nope'"):
        preview(write(tmp_path, config(tiny_model, source="nope")), 2)
    with pytest.raises(CommandError, match="--preview: give between 1 and 100 samples"):
        preview(write(tmp_path, config(tiny_model)), 0)
    with pytest.raises(CommandError, match="preview failed: model '/no/such/model' not found"):
        preview(write(tmp_path, config("/no/such/model")), 1)
    assert not Campaign.objects.exists()
