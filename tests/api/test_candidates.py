"""GET /api/v1/campaigns/{slug}/candidates (CONTRACT "HTTP API"): a paginated list any
role may read, filtered by status, with a query count that does not grow with the
campaign; and the OpenAPI schema that documents it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from curation.campaigns.imports import candidates_import
from curation.campaigns.models import CandidateStatus
from curation.scoring.services import candidates_score

ITEM_FIELDS = {"id", "prompt", "response", "status", "reasons", "critics", "origin", "generation_depth"}
PAGE_FIELDS = {"count", "page", "pages", "next", "previous", "next_after", "items"}


@pytest.fixture
def page_size(settings):
    def set_size(n: int) -> None:
        settings.ASSAY = {**settings.ASSAY, "API_PAGE_SIZE": n}

    return set_size


def _write_candidates(path: Path, n: int, start: int = 0) -> Path:
    """n distinct, well-formed candidates that pass triage (no duplicate, no repetition)."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(start, start + n):
            row = {
                "id": f"bulk-{i}",
                "prompt": f"What should I know about tea lot number {i}?",
                "response": f"Lot {i} was picked in week {i % 52 + 1}; steep it {i % 4 + 2} minutes "
                f"at {70 + i % 25} degrees and taste before adding anything.",
                "topic": "brewing",
            }
            fh.write(json.dumps(row) + "\n")
    return path


def _add_candidates(campaign, folder: Path, n: int, start: int = 0) -> None:
    candidates_import(path=_write_candidates(folder / f"bulk-{start}.jsonl", n, start), campaign=campaign)
    candidates_score(candidate_ids=list(campaign.candidates.values_list("id", flat=True)))


def test_the_list_is_a_page_of_candidates_with_the_contract_fields(api, tea_in_review, charlie, token):
    status, body = api.get("/api/v1/campaigns/tea/candidates", token(charlie))
    assert status == 200
    assert set(body) == PAGE_FIELDS
    assert (body["count"], body["page"], body["pages"]) == (6, 1, 1)
    assert body["next"] is None and body["previous"] is None
    assert [item["id"] for item in body["items"]] == sorted(
        tea_in_review.candidates.values_list("id", flat=True)
    )
    for item in body["items"]:
        assert set(item) >= ITEM_FIELDS
        assert item["origin"] == "synthetic"
        assert item["generation_depth"] == 1
        assert item["critics"] and all(isinstance(v, float) for v in item["critics"].values())
    first = body["items"][0]
    assert first["prompt"] == "How much tea should I use per cup?"
    assert first["response"].startswith("About two grams of leaf")


def test_the_status_filter_narrows_the_list_and_shows_the_reasons(api, tea_in_review, charlie, token):
    status, body = api.get("/api/v1/campaigns/tea/candidates?status=auto_rejected", token(charlie))
    assert status == 200
    assert body["count"] == 2
    assert {item["status"] for item in body["items"]} == {CandidateStatus.AUTO_REJECTED}
    reasons = {item["prompt"]: item["reasons"] for item in body["items"]}
    assert reasons["Describe tea."] == ["length"]
    assert "repetition" in reasons["What is a tea?"]

    status, body = api.get("/api/v1/campaigns/tea/candidates?status=in_review", token(charlie))
    assert body["count"] == 4
    assert all(item["status"] == "in_review" and item["reasons"] == [] for item in body["items"])


def test_pages_link_to_each_other_and_keep_the_status_filter(api, tea_in_review, charlie, token, page_size):
    page_size(3)
    status, first = api.get("/api/v1/campaigns/tea/candidates?status=in_review", token(charlie))
    assert status == 200
    assert (first["count"], first["page"], first["pages"], len(first["items"])) == (4, 1, 2, 3)
    assert first["previous"] is None
    assert "page=2" in first["next"] and "status=in_review" in first["next"]

    status, second = api.get("/api/v1/campaigns/tea/candidates?status=in_review&page=2", token(charlie))
    assert status == 200
    assert (second["page"], len(second["items"]), second["next"]) == (2, 1, None)
    assert "page=1" in second["previous"] and "status=in_review" in second["previous"]
    ids = [item["id"] for item in first["items"] + second["items"]]
    assert len(set(ids)) == 4
    assert ids == sorted(ids)


def test_an_unknown_status_is_a_400_that_names_the_valid_ones(api, tea_in_review, charlie, token):
    status, body = api.get("/api/v1/campaigns/tea/candidates?status=pending", token(charlie))
    assert status == 400
    assert "in_review" in body["detail"] and "auto_rejected" in body["detail"]


def test_page_zero_is_a_400(api, tea_in_review, charlie, token):
    status, body = api.get("/api/v1/campaigns/tea/candidates?page=0", token(charlie))
    assert status == 400
    assert body["detail"]


def test_an_edited_candidate_keeps_its_response_and_reads_as_synthetic_edited(
    api, tea_in_review, bob, charlie, token
):
    from curation.review.assignments import candidate_lease_next
    from curation.review.services import candidate_review

    leased = candidate_lease_next(user=bob, campaign=tea_in_review)
    candidate_review(user=bob, candidate_id=leased.pk, decision="edit", edited_response="Two grams per cup.")
    status, body = api.get("/api/v1/campaigns/tea/candidates?status=approved", token(charlie))
    assert status == 200
    [item] = body["items"]
    assert item["id"] == leased.pk
    assert item["origin"] == "synthetic_edited"
    assert item["response"] == leased.response


def _queries_for_one_page(api, django_assert_max_num_queries, raw_token: str, bound: int) -> int:
    with django_assert_max_num_queries(bound) as ctx:
        status, body = api.get("/api/v1/campaigns/tea/candidates", raw_token)
    assert status == 200
    assert body["items"]
    return len(ctx.captured_queries)


def test_a_page_costs_a_bounded_number_of_queries_that_does_not_grow_with_the_campaign(
    api, tea_in_review, charlie, token, tmp_path, django_assert_max_num_queries
):
    raw = token(charlie)
    api.get("/api/v1/campaigns", raw)  # the first use of a token stamps it; measure the steady state
    _add_candidates(tea_in_review, tmp_path, 5)
    small = _queries_for_one_page(api, django_assert_max_num_queries, raw, bound=7)
    _add_candidates(tea_in_review, tmp_path, 35, start=5)
    assert tea_in_review.candidates.count() == 6 + 40
    large = _queries_for_one_page(api, django_assert_max_num_queries, raw, bound=7)
    assert large == small


def test_the_openapi_schema_is_served_and_lists_the_contract_paths(api, charlie, token):
    status, schema = api.get("/api/v1/openapi.json", token(charlie))
    assert status == 200
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert {
        "/api/v1/campaigns": {"get"},
        "/api/v1/campaigns/{slug}": {"get"},
        "/api/v1/campaigns/{slug}/candidates": {"get"},
        "/api/v1/campaigns/{slug}/next": {"post"},
        "/api/v1/candidates/{candidate_id}/review": {"post"},
        "/api/v1/candidates/{candidate_id}/reinstate": {"post"},
        "/api/v1/candidates/{candidate_id}/adjudicate": {"post"},
        "/api/v1/candidates/{candidate_id}/undo": {"post"},
        "/api/v1/candidates/{candidate_id}/release": {"post"},
        "/api/v1/exports": {"get", "post"},
        "/api/v1/exports/preview": {"post"},
        "/api/v1/exports/jobs/{job_id}": {"get"},
        "/api/v1/exports/{export_id}": {"get"},
        "/api/v1/exports/{export_id}/files/{name}": {"get"},
    } == {path: set(ops) for path, ops in paths.items()}
    assert any(s.get("scheme") == "bearer" for s in schema["components"]["securitySchemes"].values())
