"""Which synthetic rows an export keeps when the cap cuts (issue 9): the human decision,
then critic quality, then diversity; an optional cap per generator model. Real critics and
real MiniLM embeddings on PostgreSQL or SQLite, through the export service."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from curation.campaigns.imports import candidates_import
from curation.core.errors import InvalidInput
from curation.exports.services import export_create, export_preview
from curation.scoring.models import CriticScore
from curation.scoring.services import candidate_reinstate, candidates_score
from tests.exports.test_export_dataset import manifest, rows
from tests.support.exports import approve_all

BREWING = [
    "Brew green tea with water at about 80 degrees Celsius for two minutes, then pour it all out.",
    "For green tea, let boiled water cool to around 80 degrees and steep the leaves for about two minutes.",
    "Green tea likes water near 80 C; steep it for roughly two minutes so it does not turn bitter.",
    "Heat water to about eighty degrees and steep green tea leaves for two minutes before serving.",
    "Use water of 80 degrees for green tea and keep the steep short, close to two minutes.",
]
OTHERS = [
    "Keep tea in an airtight tin away from light, heat and the smell of spices; it stays fresh a year.",
    "Tea reached England in the 1650s through coffee houses, and became fashionable at court later.",
    "A cup of black tea holds roughly half the caffeine of a cup of brewed coffee, sometimes less.",
]


def _campaign_with(tmp_path: Path, tea_campaign, alice, bob, texts: list[tuple[str, str]]):
    """Candidates (id, response, generator model), scored by the real critics, all approved;
    then every critic score set to one value, so quality ties and diversity decides."""
    path = tmp_path / "candidates.jsonl"
    path.write_text(
        "".join(
            json.dumps({"id": i, "prompt": "Tell me about tea.", "response": t, "generator_model": m}) + "\n"
            for i, t, m in texts
        ),
        encoding="utf-8",
    )
    candidates_import(path=path, campaign=tea_campaign)
    candidates_score(candidate_ids=list(tea_campaign.candidates.values_list("id", flat=True)))
    # The near copies are auto-rejected as near-duplicates; an admin sends them to review anyway.
    for pk in tea_campaign.candidates.filter(status="auto_rejected").values_list("id", flat=True):
        candidate_reinstate(user=alice, candidate_id=pk, reason="kept for the selection test")
    decided = approve_all(tea_campaign, bob)
    assert sorted(decided) == sorted(i for i, _, _ in texts), "every candidate reached review"
    CriticScore.objects.filter(candidate__campaign=tea_campaign).update(score=0.9)
    return tea_campaign


@pytest.fixture
def tied(tmp_path, tea_campaign, alice, bob):
    texts = [(f"brew-{i}", t, "model-a") for i, t in enumerate(BREWING)]
    texts += [(f"other-{i}", t, "model-b") for i, t in enumerate(OTHERS)]
    return _campaign_with(tmp_path, tea_campaign, alice, bob, texts)


def test_a_cap_through_equally_good_rows_keeps_the_tails(tied, tmp_path):
    # 10 human rows at 0.3 allow 4 of the 8 tied candidates.
    export_create(
        campaign_slugs=["tea"], source_names=["tea"], fmt="jsonl", out=tmp_path / "out", max_synthetic=0.3
    )
    kept = [r["id"] for r in rows(tmp_path / "out") if r["provenance"]["origin"] != "human"]
    assert len(kept) == 4
    # The three rows unlike the rest are all kept, and one of the five near copies.
    assert {k for k in kept if k.startswith("other")} == {"other-0", "other-1", "other-2"}
    m = manifest(tmp_path / "out")
    sel = m["selection"]
    assert (sel["eligible"], sel["kept"]) == (8, 4)
    assert sel["farthest_point"] == [{"stratum": "all", "tied": 8, "considered": 8, "picked": 4}]
    versus = sel["kept_vs_random"]
    assert versus["sample"] == 4
    # The kept four are the most diverse four there are; a random four can at best tie them
    # (which four it draws depends on the rows' ids, so on the database).
    assert versus["kept"]["mean_distance"] >= versus["random"]["mean_distance"]
    assert versus["kept"]["vendi"] >= versus["random"]["vendi"]
    assert "Diversity kept against a random choice" in (tmp_path / "out" / "DATASHEET.md").read_text()


def test_the_diverse_choice_is_the_same_on_every_rerun(tied, tmp_path):
    for out in ("a", "b"):
        export_create(
            campaign_slugs=["tea"],
            source_names=["tea"],
            fmt="jsonl",
            out=tmp_path / out,
            max_synthetic=0.3,
            seed=3,
        )
    assert (tmp_path / "a" / "data.jsonl").read_bytes() == (tmp_path / "b" / "data.jsonl").read_bytes()
    assert (tmp_path / "a" / "manifest.json").read_bytes() == (tmp_path / "b" / "manifest.json").read_bytes()


def test_nothing_cut_means_nothing_to_compare(tied, tmp_path):
    export_create(
        campaign_slugs=["tea"], source_names=["tea"], fmt="jsonl", out=tmp_path / "out", max_synthetic=0.5
    )
    sel = manifest(tmp_path / "out")["selection"]
    assert (sel["eligible"], sel["kept"], sel["kept_vs_random"], sel["farthest_point"]) == (8, 8, None, [])


def test_a_generator_cap_limits_each_models_share_of_the_synthetic_rows(tied, tmp_path):
    # Without it, 8 of 8 at 0.5 (model-a 5, model-b 3); at most 50% each: model-a gives up two.
    export_create(
        campaign_slugs=["tea"],
        source_names=["tea"],
        fmt="jsonl",
        out=tmp_path / "out",
        max_synthetic=0.5,
        max_per_generator=0.5,
    )
    models = Counter(
        r["provenance"]["generator"]["model"]
        for r in rows(tmp_path / "out")
        if r["provenance"]["origin"] != "human"
    )
    assert models == Counter({"model-a": 3, "model-b": 3})
    m = manifest(tmp_path / "out")
    assert m["counts_by_generator"] == {"model-a": 3, "model-b": 3}
    assert (m["policy"]["max_per_generator"], m["policy"]["from"]["max_per_generator"]) == (
        0.5,
        "--max-per-generator",
    )
    preview = export_preview(
        campaign_slugs=["tea"], source_names=["tea"], max_synthetic=0.5, max_per_generator=0.5
    )
    assert preview["counts"] == {"human": 10, "synthetic": 6, "total": 16}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_per_generator": 0}, "--max-per-generator must be above 0 and at most 1"),
        ({"max_per_generator": 1.5}, "--max-per-generator must be above 0 and at most 1"),
        ({"max_per_generator": 0.5, "ladder": [0.1, 0.2]}, "with --ladder is not supported yet"),
    ],
)
def test_a_generator_cap_out_of_range_or_with_a_ladder_is_refused(tied, tmp_path, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        export_create(
            campaign_slugs=["tea"], source_names=["tea"], fmt="jsonl", out=tmp_path / "out", **kwargs
        )
    assert not (tmp_path / "out").exists()


def test_the_command_takes_the_generator_cap(tied, tmp_path):
    from django.core.management import call_command

    call_command(
        "export_dataset",
        "--campaign",
        "tea",
        "--source",
        "tea",
        "--max-synthetic",
        "0.5",
        "--max-per-generator",
        "0.5",
        "--out",
        str(tmp_path / "out"),
    )
    assert manifest(tmp_path / "out")["counts_by_generator"] == {"model-a": 3, "model-b": 3}


def test_a_large_part_is_measured_on_a_seeded_sample_that_says_so(tied, tmp_path, monkeypatch):
    from curation.metrics.reports import ExportTally

    monkeypatch.setattr(ExportTally, "SAMPLE", 5)  # 10 human rows, 4 synthetic: the human part is sampled
    for out in ("a", "b"):
        export_create(
            campaign_slugs=["tea"], source_names=["tea"], fmt="jsonl", out=tmp_path / out, max_synthetic=0.3
        )
    d = manifest(tmp_path / "a")["diversity"]
    assert (d["human"]["rows"], d["synthetic"]["rows"], d["whole"]["rows"]) == (10, 4, 14)
    assert d["synthetic"]["n"] == 4  # under the sample size: every row
    assert 0 < d["human"]["n"] < 10 and 0 < d["whole"]["n"] < 14
    assert manifest(tmp_path / "b")["diversity"] == d


def test_a_preview_refuses_what_the_export_would(tied):
    with pytest.raises(InvalidInput, match="with --ladder is not supported yet"):
        export_preview(campaign_slugs=["tea"], source_names=["tea"], max_per_generator=0.5, ladder=[0.1])
    with pytest.raises(InvalidInput, match="--ladder steps must lie between 0 and the cap"):
        export_preview(campaign_slugs=["tea"], source_names=["tea"], max_synthetic=0.2, ladder=[0.1, 0.3])
    # With a ladder, the figures are those of the cap itself.
    preview = export_preview(campaign_slugs=["tea"], source_names=["tea"], max_synthetic=0.5, ladder=[0.1])
    assert preview["counts"]["synthetic"] == 8


# Found trying it as a new user: policies that would silently keep nothing are refused.


def test_balancing_by_a_field_no_synthetic_row_shares_with_the_humans_is_refused(tied, tmp_path):
    # The human tea rows have a topic; these candidates have none.
    with pytest.raises(InvalidInput, match="none of the 8 approved synthetic rows has a value of 'topic'"):
        export_create(
            campaign_slugs=["tea"],
            source_names=["tea"],
            fmt="jsonl",
            out=tmp_path / "out",
            balance_by="topic",
        )
    assert not (tmp_path / "out").exists()


def test_a_generator_share_no_mix_can_meet_is_refused_and_a_met_one_is_counted_apart(tied):
    with pytest.raises(InvalidInput, match=r"2 generator model.*lowest share 2 models can meet is 0\.50"):
        export_preview(campaign_slugs=["tea"], source_names=["tea"], max_synthetic=0.5, max_per_generator=0.2)
    preview = export_preview(
        campaign_slugs=["tea"], source_names=["tea"], max_synthetic=0.5, max_per_generator=0.5
    )
    assert preview["excluded"] == {
        "approved_synthetic_in_a_stratum_without_human_rows": 0,
        "approved_synthetic_over_cap": 0,
        "approved_synthetic_over_generator_cap": 2,
        "approved_synthetic_over_depth": 0,
    }


def test_a_ladder_step_says_its_cap_came_from_the_ladder(tied, tmp_path):
    export_create(
        campaign_slugs=["tea"], source_names=["tea"], fmt="jsonl", out=tmp_path / "out", ladder=[0.0, 0.2]
    )
    step = manifest(tmp_path / "out" / "synthetic-0.20")
    assert step["policy"]["max_synthetic"] == 0.2
    assert (
        step["policy"]["from"]["max_synthetic"]
        == "--ladder: one step, under the cap 0.3 (the mixture of tea)"
    )
    index = manifest(tmp_path / "out")
    assert (
        index["policy"]["from"]["max_synthetic"] == "the mixture of tea: the cap the --ladder steps lie under"
    )
    sheet = (tmp_path / "out" / "synthetic-0.00" / "DATASHEET.md").read_text()
    assert "| max_synthetic | 0.0 | --ladder: one step" in sheet


def test_a_preview_of_a_ladder_gives_each_step(tied):
    preview = export_preview(campaign_slugs=["tea"], source_names=["tea"], ladder=[0.0, 0.2])
    assert [(s["max_synthetic"], s["synthetic"], s["total"]) for s in preview["ladder"]] == [
        (0.0, 0, 10),
        (0.2, 2, 12),
    ]


def test_a_held_out_export_refuses_the_policy_it_cannot_apply_and_its_datasheet_says_what_it_is(
    tea_sources, tmp_path
):
    with pytest.raises(
        InvalidInput, match="--split heldout holds no synthetic data: --max-synthetic does not apply"
    ):
        export_create(
            source_names=["tea-heldout"],
            campaign_slugs=[],
            fmt="jsonl",
            out=tmp_path / "x",
            split="heldout",
            max_synthetic=0.2,
        )
    export_create(
        source_names=["tea-heldout"], campaign_slugs=[], fmt="jsonl", out=tmp_path / "out", split="heldout"
    )
    sheet = (tmp_path / "out" / "DATASHEET.md").read_text()
    assert "Why: An evaluation set" in sheet and "Why the cap" not in sheet
    assert "eligible were kept" not in sheet and "every row of the held-out sources" in sheet
    assert "| synthetic | 0 | 0 | - | - | - |" in sheet


def test_a_bad_ladder_is_one_line(tied, tmp_path):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match=r"--ladder '0,abc': give fractions separated by commas"):
        call_command(
            "export_dataset",
            "--campaign",
            "tea",
            "--source",
            "tea",
            "--ladder",
            "0,abc",
            "--out",
            str(tmp_path / "o"),
        )


def test_an_edited_response_is_measured_as_exported_not_as_generated(approved_tea):
    """The stored embedding is of the generator's text; selection and the kept-versus-random
    figures measure the expert's edit, as the export writes it (and as its diversity does)."""
    import numpy as np

    from curation.campaigns.models import Candidate
    from curation.exports.planning import vectors as _vectors
    from tests.support.exports import EDITED
    from workers.critics.embeddings import get_encoder

    edited = Candidate.objects.get(external_id="syn-2")
    plain = Candidate.objects.get(external_id="syn-1")
    got = _vectors([edited.pk, plain.pk])
    want = get_encoder().encode([EDITED, plain.response])
    assert np.allclose(got, want, atol=1e-5)
