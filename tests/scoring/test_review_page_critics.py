"""What the review page says about the critics: quality, novelty and form apart; a plain
warning when no judge of quality ran; the nearest stored texts, escaped."""

from __future__ import annotations

import json

from curation.campaigns.imports import candidates_import
from curation.scoring.services import candidates_score


def test_the_review_page_separates_quality_from_form_and_says_when_no_judge_ran(
    client, bob, tea_campaign, tmp_path
):
    path = tmp_path / "c.jsonl"
    row = {
        "prompt": "How hot should the water be for green tea?",
        "response": "Around 75 degrees <script>alert('x')</script> keeps the leaves sweet and never bitter.",
    }
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    candidates_import(path=path, campaign=tea_campaign)
    candidates_score(candidate_ids=list(tea_campaign.candidates.values_list("id", flat=True)))
    client.force_login(bob)
    client.post("/review/tea/start/")  # viewing takes no lease; starting does
    page = client.get("/review/tea/").content.decode()
    assert 'id="no-quality"' in page and "No judge of quality ran on this candidate" in page
    for heading in ("Quality", "Novelty", "Form"):
        assert f"<h3>{heading} " in page
    # The nearest real answer (about green tea's water temperature) is shown beside it.
    assert "Nearest stored texts by meaning" in page and "tea-1" in page
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_the_campaign_page_says_whether_an_llm_judge_runs(client, alice, tea_sources):
    from curation.campaigns.config import parse_config
    from curation.campaigns.services import campaign_create_or_update

    client.force_login(alice)
    for slug, judge, says in (
        ("judged", {}, "then an LLM judge scores quality"),
        ("unjudged", {"enabled": False}, "no LLM judge"),
    ):
        config = {"slug": slug, "source": "tea", "count": 1, "critics": {"judge": judge}}
        campaign_create_or_update(config=parse_config(config))
        assert says in client.get(f"/campaigns/{slug}/").content.decode()
