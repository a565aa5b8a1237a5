"""The server-rendered pages through Django's test client: what they explain, who may see
them, and that list pages cost a fixed number of queries however long the campaign."""

from __future__ import annotations

import json

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils.html import escape

from curation.campaigns.models import CandidateStatus


def _queries(client, url: str) -> int:
    """Queries of a cold page (the dashboard's cached agreement is dropped first)."""
    from django.core.cache import cache

    cache.clear()
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def _import_more(campaign, tmp_path, n: int) -> None:
    from curation.campaigns.imports import candidates_import
    from curation.scoring.services import candidates_score

    path = tmp_path / "more.jsonl"
    rows = [
        {
            "prompt": f"Question {i}: which tea suits evening {i}?",
            "response": f"Answer {i}: a caffeine-free herbal infusion such as chamomile number {i} "
            f"suits the evening, brewed for {i % 5 + 3} minutes in water just off the boil.",
        }
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    candidates_import(path=path, campaign=campaign)
    ids = list(campaign.candidates.filter(status=CandidateStatus.GENERATED).values_list("id", flat=True))
    candidates_score(candidate_ids=ids)


def test_the_campaign_page_costs_the_same_queries_for_a_longer_campaign(
    client, charlie, tea_in_review, tmp_path
):
    client.force_login(charlie)
    small = _queries(client, "/campaigns/tea/")
    home_small = _queries(client, "/")
    _import_more(tea_in_review, tmp_path, 20)
    assert _queries(client, "/campaigns/tea/") == small
    assert _queries(client, "/") == home_small


def test_the_campaign_page_says_why_each_candidate_was_auto_rejected(client, charlie, tea_in_review):
    client.force_login(charlie)
    page = client.get("/campaigns/tea/?status=auto_rejected").content.decode()
    rejected = tea_in_review.candidates.filter(status=CandidateStatus.AUTO_REJECTED).prefetch_related(
        "scores"
    )
    assert rejected
    for candidate in rejected:
        for reason in candidate.reasons:
            assert escape(reason) in page
        for score in candidate.scores.all():
            if not score.passed and score.rationale:
                assert escape(score.rationale) in page


def test_the_campaign_page_shows_the_mixture_cap_and_why(client, charlie, tea_in_review):
    client.force_login(charlie)
    page = client.get("/campaigns/tea/").content.decode()
    assert "30% synthetic" in page
    assert "degrades models" in page


def test_an_unknown_campaign_is_a_404_that_names_it(client, charlie, db):
    client.force_login(charlie)
    response = client.get("/campaigns/no-such-thing/")
    assert response.status_code == 404
    assert "no campaign &#x27;no-such-thing&#x27;" in response.content.decode().lower()


def test_the_review_pages_send_a_stranger_to_the_login_form(client, tea_in_review):
    response = client.get("/review/tea/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/review/tea/")


def test_a_viewer_cannot_post_a_decision(client, charlie, tea_in_review):
    client.force_login(charlie)
    candidate = tea_in_review.candidates.filter(status=CandidateStatus.IN_REVIEW).first()
    response = client.post(f"/review/tea/{candidate.pk}/", {"decision": "accept"})
    assert response.status_code == 403
    candidate.refresh_from_db()
    assert candidate.status == CandidateStatus.IN_REVIEW
    assert not candidate.reviews.exists()
