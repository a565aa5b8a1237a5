"""The Argilla bridge end to end against the real Argilla 2.8.0 test server: a campaign in
review pushed, leased to Argilla, answered there by two annotators (alice and bob), and the
answers recorded as Assay reviews under Assay's own rules. Each test has its own dataset."""

from __future__ import annotations

import socket
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from curation.accounts.models import User
from curation.campaigns.models import Candidate, CandidateStatus
from curation.integrations.argilla.client import EDITED, ArgillaError
from curation.integrations.argilla.models import ArgillaRecord, ArgillaSync, ArgillaUser, RecordState
from curation.integrations.argilla.services import argilla_sweep, argilla_sync, argilla_target
from curation.review.assignments import candidate_lease_next
from curation.review.models import Review
from curation.review.services import candidate_review
from tests.support.argilla.annotators import Annotator, record_ids

pytestmark = pytest.mark.slow

pytest.importorskip("argilla", reason="the argilla extra is not installed (pip install -e '.[argilla]')")

WORKSPACE = "assay-sync"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _configure(campaign, url: str, dataset: str, per_item: int = 1):
    config = dict(campaign.config)
    config["argilla"] = {"url": url, "workspace": WORKSPACE, "dataset": dataset}
    config["review"] = {**config.get("review", {}), "per_item": per_item}
    campaign.config = config
    campaign.save(update_fields=["config"])
    Candidate.objects.filter(campaign=campaign).update(needed=per_item)
    return campaign


@pytest.fixture
def argilla_key(settings, argilla_server):
    settings.ASSAY = {**settings.ASSAY, "ARGILLA_API_KEY": argilla_server["api_key"]}
    return argilla_server["api_key"]


@pytest.fixture
def bridged(request, tea_in_review, argilla_server, argilla_key):
    """tea_in_review with an `argilla` section pointing at the test server."""
    dataset = request.node.name.removeprefix("test_")[:60].replace("_", "-")
    return _configure(tea_in_review, argilla_server["url"], dataset)


def _in_review(campaign) -> list[Candidate]:
    return list(campaign.candidates.filter(status=CandidateStatus.IN_REVIEW).order_by("pk"))


def _state(campaign):
    """Everything a sync may change, to compare before and after."""
    candidates = list(
        campaign.candidates.order_by("pk").values_list(
            "pk", "status", "decisions", "holders", "edited_response", "reasons"
        )
    )
    reviews = list(Review.objects.order_by("pk").values_list("pk", "candidate_id", "reviewer_id", "decision"))
    records = list(
        ArgillaRecord.objects.order_by("pk").values_list(
            "candidate_id", "state", "seats", "submitted", "error"
        )
    )
    return candidates, reviews, records


def test_a_sync_pushes_candidates_in_review_and_leases_them_to_argilla(bridged, argilla_server, erin):
    in_review = _in_review(bridged)
    assert len(in_review) == 4

    summary = argilla_sync(campaign=bridged)

    assert summary["pushed"] == 4
    target = argilla_target(campaign=bridged)
    assert record_ids(argilla_server, target) == [str(c.pk) for c in in_review]
    assert candidate_lease_next(user=erin, campaign=bridged) is None  # all leased to Argilla
    assert [c.holders for c in _in_review(bridged)] == [1, 1, 1, 1]
    sync = ArgillaSync.objects.get(campaign=bridged)
    assert (sync.pushed, sync.error, sync.last_ok_at is not None) == (4, "", True)

    before = _state(bridged)
    again = argilla_sync(campaign=bridged)
    assert (again["pushed"], again["answers"], again["removed"]) == (0, 0, 0)
    assert _state(bridged) == before
    assert record_ids(argilla_server, target) == [str(c.pk) for c in in_review]


def test_answers_in_argilla_become_reviews_by_mapped_experts(bridged, argilla_server, erin):
    argilla_sync(campaign=bridged)
    target = argilla_target(campaign=bridged)
    c1, c2, c3, c4 = _in_review(bridged)
    alice = Annotator(argilla_server, target, "alice")
    bob = Annotator(argilla_server, target, "bob")
    alice.answer(c1.pk, "submitted", decision="accept")
    alice.answer(c2.pk, "submitted", decision="accept", **{EDITED: "A better answer about tea."})
    bob.answer(c3.pk, "submitted", decision="reject", reasons=["wrong"], note="Not true.")
    bob.answer(c4.pk, "discarded")

    out = StringIO()
    call_command("argilla_sync", bridged.slug, stdout=out)

    assert out.getvalue().strip() == (
        f"{bridged.slug}: pushed 0, pulled 4 answers -> 4 reviews (0 refused), removed 1"
    )
    alice_user, bob_user = User.objects.get(username="alice"), User.objects.get(username="bob")
    assert (alice_user.role, bob_user.role) == ("expert", "expert")
    assert ArgillaUser.objects.get(argilla_id=alice.id).user == alice_user
    for c in (c1, c2, c3, c4):
        c.refresh_from_db()
    assert (c1.status, c1.edited_response) == (CandidateStatus.APPROVED, None)
    edit = Review.objects.get(candidate=c2)
    assert (edit.reviewer, edit.decision, edit.edited_response) == (
        alice_user,
        "edit",
        "A better answer about tea.",
    )
    assert c2.status == CandidateStatus.APPROVED
    assert c2.edited_response == "A better answer about tea."
    assert c2.response != c2.edited_response  # the original text is kept
    reject = Review.objects.get(candidate=c3)
    assert (reject.reviewer, reject.decision, reject.reasons, reject.note) == (
        bob_user,
        "reject",
        ["wrong"],
        "Not true.",
    )
    assert (c3.status, c3.reasons) == (CandidateStatus.REJECTED, ["wrong"])
    # Discarded: a skip by bob; the record leaves Argilla and the item goes to Django's queue.
    assert list(Review.objects.filter(candidate=c4).values_list("reviewer__username", "decision")) == [
        ("bob", "skip")
    ]
    assert (c4.status, c4.decisions, c4.holders) == (CandidateStatus.IN_REVIEW, 0, 0)
    assert ArgillaRecord.objects.get(candidate=c4).state == RecordState.REMOVED
    assert record_ids(argilla_server, target) == [str(c.pk) for c in (c1, c2, c3)]
    assert candidate_lease_next(user=erin, campaign=bridged).pk == c4.pk
    assert ArgillaSync.objects.get(campaign=bridged).pulled == 4

    before = _state(bridged)
    again = argilla_sync(campaign=bridged)
    assert (again["pushed"], again["answers"], again["reviews"], again["removed"]) == (0, 0, 0, 0)
    assert _state(bridged) == before


def test_an_answer_the_rules_refuse_is_a_visible_line_and_the_others_are_kept(
    bridged, argilla_server, alice, client
):
    argilla_sync(campaign=bridged)
    target = argilla_target(campaign=bridged)
    c1, c2, *_ = _in_review(bridged)
    bob = Annotator(argilla_server, target, "bob")
    bob.answer(c1.pk, "submitted", decision="reject")  # no reason, no note
    bob.answer(c2.pk, "submitted", decision="accept")

    summary = argilla_sync(campaign=bridged)

    assert (summary["answers"], summary["reviews"]) == (2, 1)
    [line] = summary["refused"]
    assert line.startswith(f"record {c1.pk} (bob): ") and "give a reason code or a note" in line
    assert ArgillaRecord.objects.get(candidate=c1).error == line
    c1.refresh_from_db()
    assert (c1.status, c1.decisions, c1.holders) == (CandidateStatus.IN_REVIEW, 0, 1)  # still Argilla's
    assert Review.objects.filter(candidate=c2, decision="accept").exists()
    again = argilla_sync(campaign=bridged)
    assert (again["answers"], again["refused"]) == (0, [])
    assert ArgillaSync.objects.get(campaign=bridged).refused == 1

    client.force_login(alice)
    page = client.get(reverse("campaign_detail", args=[bridged.slug])).content.decode()
    assert "Argilla" in page and "give a reason code or a note" in page


def test_per_item_two_counts_argilla_and_assay_decisions_and_disagreement_goes_to_adjudication(
    tea_in_review, argilla_server, argilla_key
):
    campaign = _configure(tea_in_review, argilla_server["url"], "per-item-two", per_item=2)
    argilla_sync(campaign=campaign)
    target = argilla_target(campaign=campaign)
    c1, c2, *_ = _in_review(campaign)
    assert ArgillaRecord.objects.get(candidate=c1).seats == 2
    alice = Annotator(argilla_server, target, "alice")
    bob = Annotator(argilla_server, target, "bob")
    alice.answer(c1.pk, "submitted", decision="accept")
    bob.answer(c1.pk, "submitted", decision="reject", reasons=["unhelpful"])
    alice.answer(c2.pk, "submitted", decision="accept")

    argilla_sync(campaign=campaign)

    c1.refresh_from_db()
    c2.refresh_from_db()
    assert (c1.status, c1.decisions, c1.holders) == (CandidateStatus.IN_ADJUDICATION, 2, 0)
    assert ArgillaRecord.objects.get(candidate=c1).state == RecordState.DONE  # answered in full
    assert str(c1.pk) in record_ids(argilla_server, target)
    assert (c2.status, c2.decisions, c2.holders) == (CandidateStatus.IN_REVIEW, 1, 1)  # bob may still answer
    bob.answer(c2.pk, "submitted", decision="accept")
    argilla_sync(campaign=campaign)
    c2.refresh_from_db()
    assert (c2.status, c2.decisions) == (CandidateStatus.APPROVED, 2)


def test_an_overlap_item_gets_its_other_decision_on_assays_page(
    tea_in_review, argilla_server, argilla_key, erin
):
    campaign = _configure(tea_in_review, argilla_server["url"], "overlap-seat")
    c1 = _in_review(campaign)[0]
    Candidate.objects.filter(pk=c1.pk).update(needed=2)  # the overlap share
    argilla_sync(campaign=campaign)
    assert ArgillaRecord.objects.get(candidate=c1).seats == 1  # Argilla's min_submitted is per_item

    assert candidate_lease_next(user=erin, campaign=campaign).pk == c1.pk
    candidate_review(user=erin, candidate_id=c1.pk, decision="accept")
    Annotator(argilla_server, argilla_target(campaign=campaign), "alice").answer(
        c1.pk, "submitted", decision="accept"
    )
    argilla_sync(campaign=campaign)

    c1.refresh_from_db()
    assert (c1.status, c1.decisions) == (CandidateStatus.APPROVED, 2)


def test_an_expired_argilla_lease_goes_back_to_the_django_queue_and_leaves_argilla(
    bridged, argilla_server, erin
):
    argilla_sync(campaign=bridged)
    target = argilla_target(campaign=bridged)
    c1, *others = _in_review(bridged)
    ArgillaRecord.objects.filter(candidate=c1).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    assert argilla_sweep()["returned"] == 1

    assert candidate_lease_next(user=erin, campaign=bridged).pk == c1.pk
    summary = argilla_sync(campaign=bridged)
    assert (summary["removed"], summary["pushed"]) == (1, 0)  # and never pushed again
    assert record_ids(argilla_server, target) == [str(c.pk) for c in others]
    assert ArgillaRecord.objects.get(candidate=c1).state == RecordState.REMOVED
    c1.refresh_from_db()
    assert c1.holders == 1  # erin's lease only


def test_an_unreachable_argilla_is_one_line_on_the_page_and_nothing_is_lost(
    tea_in_review, argilla_key, alice, client
):
    url = f"http://127.0.0.1:{_free_port()}"
    campaign = _configure(tea_in_review, url, "nowhere")
    before = _state(campaign)

    with pytest.raises(ArgillaError, match="cannot connect"):
        argilla_sync(campaign=campaign)
    with pytest.raises(CommandError) as caught:
        call_command("argilla_sync", campaign.slug)

    sync = ArgillaSync.objects.get(campaign=campaign)
    assert sync.error.startswith(f"Argilla at {url}: ") and "\n" not in sync.error
    assert str(caught.value) == sync.error
    assert sync.running_until is None
    assert _state(campaign) == before
    client.force_login(alice)
    page = client.get(reverse("campaign_detail", args=[campaign.slug])).content.decode()
    assert "Sync failed" in page and "cannot connect" in page


def test_a_sync_without_the_api_key_fails_with_a_clear_line(tea_in_review, settings, argilla_server):
    settings.ASSAY = {**settings.ASSAY, "ARGILLA_API_KEY": ""}
    campaign = _configure(tea_in_review, argilla_server["url"], "no-key")

    with pytest.raises(CommandError, match="needs an API key: set ASSAY_ARGILLA_API_KEY"):
        call_command("argilla_sync", campaign.slug)
    assert "ASSAY_ARGILLA_API_KEY" in ArgillaSync.objects.get(campaign=campaign).error


def test_a_campaign_without_argilla_is_refused_by_the_command(tea_in_review):
    with pytest.raises(CommandError, match="has no argilla section"):
        call_command("argilla_sync", tea_in_review.slug)


def test_an_export_after_argilla_names_the_argilla_reviewers_and_keeps_the_original_text(
    bridged, argilla_server, tmp_path
):
    import json

    from curation.exports.services import export_create

    argilla_sync(campaign=bridged)
    target = argilla_target(campaign=bridged)
    c1, c2, *_ = _in_review(bridged)
    edited = "Genmaicha: green tea with roasted rice, edited in Argilla."
    Annotator(argilla_server, target, "alice").answer(c1.pk, "submitted", decision="accept")
    Annotator(argilla_server, target, "bob").answer(c2.pk, "submitted", decision="accept", **{EDITED: edited})
    argilla_sync(campaign=bridged)

    export_create(campaign_slugs=[bridged.slug], source_names=["tea"], fmt="jsonl", out=tmp_path / "out")

    lines = (tmp_path / "out" / "data.jsonl").read_text(encoding="utf-8").splitlines()
    records = {r["id"]: r for r in map(json.loads, lines)}
    accepted, changed = records[c1.external_id], records[c2.external_id]
    assert accepted["provenance"]["origin"] == "synthetic"
    assert accepted["provenance"]["review"]["reviewers"] == ["alice"]
    assert accepted["response"] == c1.response
    assert changed["provenance"]["origin"] == "synthetic_edited"
    assert changed["provenance"]["review"]["reviewers"] == ["bob"]
    assert changed["provenance"]["review"]["decision"] == "edit"
    assert changed["response"] == edited
    assert changed["provenance"]["review"]["original"]["response"] == c2.response
    assert {r["provenance"]["origin"] for r in records.values()} == {"human", "synthetic", "synthetic_edited"}
