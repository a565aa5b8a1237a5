"""Review leases and decisions through the HTTP API (CONTRACT "HTTP API").

Label Studio served one task to two annotators (label-studio#795) and lost annotations
after network failures (label-studio#6675): both are tested here, the first with real
threads on PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from curation.accounts.services import token_create, user_create
from curation.campaigns.imports import candidates_import
from curation.campaigns.models import Candidate, CandidateStatus
from curation.review.assignments import assignments_reap
from curation.review.models import Assignment, Decision, Review
from curation.scoring.services import candidates_score
from tests.conftest import Api


def lease(api, raw: str, slug: str = "tea"):
    return api.post(f"/api/v1/campaigns/{slug}/next", raw)


def decide(api, raw: str, candidate_id: int, decision: str, **fields):
    return api.post(f"/api/v1/candidates/{candidate_id}/review", raw, {"decision": decision, **fields})


def leased_id(api, raw: str) -> int:
    status, body = lease(api, raw)
    assert status == 200, body
    return body["id"]


def holders(candidate_id: int) -> list[str]:
    held = Assignment.objects.filter(candidate_id=candidate_id)
    return list(held.values_list("expert__username", flat=True))


def expire(candidate_id: int, by: timedelta = timedelta(seconds=1)) -> None:
    Assignment.objects.filter(candidate_id=candidate_id).update(expires_at=timezone.now() - by)


def in_review(campaign) -> list[Candidate]:
    return list(campaign.candidates.filter(status=CandidateStatus.IN_REVIEW).order_by("-priority", "id"))


def test_next_leases_the_first_candidate_in_the_queue_to_the_expert(api, tea_in_review, bob, token):
    before = timezone.now()
    status, body = lease(api, token(bob))
    assert status == 200
    assert set(body) >= {"id", "prompt", "response", "critics", "lease_expires"}
    first = in_review(tea_in_review)[0]
    assert body["id"] == first.pk
    assert (body["prompt"], body["response"]) == (first.prompt, first.response)
    assert set(body["critics"]) >= {"length", "repetition", "duplicate"}
    first.refresh_from_db()
    [held] = Assignment.objects.filter(candidate=first)
    assert (held.expert, first.holders, first.decisions, first.needed) == (bob, 1, 0, 1)
    lease_for = timedelta(seconds=settings.ASSAY["LEASE_SECONDS"])
    assert before + lease_for <= held.expires_at <= timezone.now() + lease_for
    # JSON carries milliseconds.
    assert abs(datetime.fromisoformat(body["lease_expires"]) - held.expires_at) < timedelta(milliseconds=1)


def test_asking_again_while_holding_a_lease_returns_the_same_candidate(api, tea_in_review, bob, token):
    raw = token(bob)
    first = leased_id(api, raw)
    assert leased_id(api, raw) == first
    assert Assignment.objects.filter(expert=bob).count() == 1


def test_two_experts_never_get_the_same_candidate(api, tea_in_review, bob, erin, token):
    raws = {bob.username: token(bob), erin.username: token(erin)}
    taken: dict[str, list[int]] = {name: [] for name in raws}
    for _ in range(2):
        for name, raw in raws.items():
            taken[name].append(leased_id(api, raw))
        for name, raw in raws.items():
            assert decide(api, raw, taken[name][-1], "accept")[0] == 200
    assert not set(taken["bob"]) & set(taken["erin"])
    assert len(set(taken["bob"]) | set(taken["erin"])) == 4


def test_it_answers_204_when_nothing_is_left(api, tea_in_review, bob, token):
    raw = token(bob)
    for _ in range(4):
        assert decide(api, raw, leased_id(api, raw), "accept")[0] == 200
    assert lease(api, raw) == (204, None)


def test_a_candidate_leased_to_another_expert_is_not_offered(api, tea_in_review, bob, erin, token):
    held_by_bob = leased_id(api, token(bob))
    for _ in range(3):
        candidate_id = leased_id(api, token(erin))
        assert candidate_id != held_by_bob
        assert decide(api, token(erin), candidate_id, "accept")[0] == 200
    assert lease(api, token(erin)) == (204, None)


def test_a_decision_without_holding_the_lease_is_a_409(api, tea_in_review, bob, erin, token):
    never_leased, leased_to_erin = in_review(tea_in_review)[-1], in_review(tea_in_review)[0]
    assert leased_id(api, token(erin)) == leased_to_erin.pk
    for candidate in (never_leased, leased_to_erin):
        status, body = decide(api, token(bob), candidate.pk, "accept")
        assert status == 409
        assert "not leased to you" in body["detail"]
        candidate.refresh_from_db()
        assert candidate.status == CandidateStatus.IN_REVIEW
    assert not Review.objects.exists()


def test_a_decided_candidate_is_a_409_for_another_expert(api, tea_in_review, bob, erin, token):
    candidate_id = leased_id(api, token(bob))
    assert decide(api, token(bob), candidate_id, "accept")[0] == 200
    status, body = decide(api, token(erin), candidate_id, "reject", reasons=["wrong"])
    assert status == 409
    assert "already decided" in body["detail"]
    assert Candidate.objects.get(pk=candidate_id).status == CandidateStatus.APPROVED
    assert list(Review.objects.values_list("reviewer__username", "decision")) == [("bob", "accept")]


def test_a_decision_sent_again_after_a_network_failure_is_replayed_not_doubled(
    api, tea_in_review, bob, token
):
    raw = token(bob)
    candidate_id = leased_id(api, raw)
    status, first = decide(api, raw, candidate_id, "accept")
    assert status == 200
    assert (first["status"], first["decision"], first["replayed"]) == ("approved", "accept", False)
    status, again = decide(api, raw, candidate_id, "accept")
    assert status == 200
    assert (again["id"], again["status"], again["decision"], again["replayed"]) == (
        candidate_id,
        "approved",
        "accept",
        True,
    )
    assert Review.objects.filter(candidate_id=candidate_id).count() == 1


def test_a_different_decision_sent_after_deciding_is_a_409(api, tea_in_review, bob, token):
    raw = token(bob)
    candidate_id = leased_id(api, raw)
    assert decide(api, raw, candidate_id, "accept")[0] == 200
    status, _ = decide(api, raw, candidate_id, "reject", reasons=["wrong"])
    assert status == 409
    assert Candidate.objects.get(pk=candidate_id).status == CandidateStatus.APPROVED
    assert Review.objects.filter(candidate_id=candidate_id).count() == 1


def test_a_late_decision_on_an_expired_lease_taken_by_another_expert_is_a_409(
    api, tea_in_review, bob, erin, token
):
    candidate_id = leased_id(api, token(bob))
    expire(candidate_id)
    assert assignments_reap() == 1  # the sweeper returns the abandoned lease to the queue
    assert leased_id(api, token(erin)) == candidate_id
    status, body = decide(api, token(bob), candidate_id, "accept")
    assert status == 409
    assert "not leased to you" in body["detail"]
    status, body = decide(api, token(erin), candidate_id, "reject", reasons=["wrong"])
    assert (status, body["status"]) == (200, "rejected")
    assert list(Review.objects.values_list("reviewer__username", "decision")) == [("erin", "reject")]


def test_an_expired_lease_still_counts_while_nobody_else_took_the_candidate(api, tea_in_review, bob, token):
    candidate_id = leased_id(api, token(bob))
    expire(candidate_id, timedelta(minutes=5))
    status, body = decide(api, token(bob), candidate_id, "accept")
    assert (status, body["status"], body["replayed"]) == (200, "approved", False)


def test_a_skip_releases_the_lease_to_other_experts_but_not_back_to_the_skipper(
    api, tea_in_review, bob, erin, token
):
    skipped = leased_id(api, token(bob))
    status, body = decide(api, token(bob), skipped, "skip")
    assert (status, body["status"], body["decision"]) == (200, "in_review", "skip")
    assert holders(skipped) == [] and Candidate.objects.get(pk=skipped).holders == 0

    assert leased_id(api, token(bob)) != skipped
    assert leased_id(api, token(erin)) == skipped


def test_a_skip_sent_again_after_a_network_failure_is_replayed_not_doubled(
    api, tea_in_review, bob, erin, token
):
    skipped = leased_id(api, token(bob))
    assert decide(api, token(bob), skipped, "skip")[0] == 200
    status, body = decide(api, token(bob), skipped, "skip")
    assert (status, body["status"], body["decision"], body["replayed"]) == (200, "in_review", "skip", True)
    assert leased_id(api, token(erin)) == skipped  # the retry took nothing back from the queue
    assert decide(api, token(bob), skipped, "skip")[1]["replayed"] is True
    assert Review.objects.filter(candidate_id=skipped).count() == 1
    status, _ = decide(api, token(bob), skipped, "accept")  # a skipper cannot decide it after all
    assert status == 409


def test_an_expert_who_skipped_everything_left_gets_204_while_others_still_can_review(
    api, tea_in_review, bob, erin, token
):
    for _ in range(4):
        assert decide(api, token(bob), leased_id(api, token(bob)), "skip")[0] == 200
    assert lease(api, token(bob)) == (204, None)
    assert lease(api, token(erin))[0] == 200
    assert Review.objects.filter(decision=Decision.SKIP).count() == 4


def test_an_edit_keeps_the_original_response_and_stores_the_edited_one(api, tea_in_review, bob, token):
    candidate_id = leased_id(api, token(bob))
    original = Candidate.objects.get(pk=candidate_id).response
    edited = "About two grams of leaf for a 200 ml cup; weigh it once, then use a spoon."
    status, body = decide(api, token(bob), candidate_id, "edit", edited_response=edited)
    assert (status, body["status"], body["decision"]) == (200, "approved", "edit")
    candidate = Candidate.objects.get(pk=candidate_id)
    assert candidate.response == original
    assert candidate.edited_response == edited
    assert candidate.origin == "synthetic_edited"
    assert Review.objects.get(candidate=candidate).edited_response == edited


def test_an_edit_without_an_edited_response_is_a_400_and_keeps_the_lease(api, tea_in_review, bob, token):
    candidate_id = leased_id(api, token(bob))
    status, body = decide(api, token(bob), candidate_id, "edit", edited_response="   ")
    assert status == 400
    assert "edited_response" in body["detail"]
    candidate = Candidate.objects.get(pk=candidate_id)
    assert (candidate.status, candidate.edited_response) == ("in_review", None)
    assert holders(candidate_id) == ["bob"]


def test_a_rejection_keeps_its_reasons(api, tea_in_review, bob, token):
    candidate_id = leased_id(api, token(bob))
    status, body = decide(
        api, token(bob), candidate_id, "reject", reasons=["wrong", " off-topic ", ""], note="wrong amount"
    )
    assert (status, body["status"], body["decision"]) == (200, "rejected", "reject")
    review = Review.objects.get(candidate_id=candidate_id)
    assert (review.reviewer, review.reasons, review.note) == (bob, ["off-topic", "wrong"], "wrong amount")
    candidate = Candidate.objects.get(pk=candidate_id)
    assert (candidate.status, holders(candidate_id)) == ("rejected", [])
    assert candidate.reasons == ["off-topic", "wrong"]  # the expert's reasons, what the list API shows
    assert candidate.decided_at is not None


def _write_candidates(path: Path, n: int) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            row = {
                "id": f"race-{i}",
                "prompt": f"What should I know about tea lot number {i}?",
                "response": f"Lot {i} was picked in week {i % 52 + 1}; steep it {i % 4 + 2} minutes "
                f"at {70 + i % 25} degrees and taste before adding anything.",
            }
            fh.write(json.dumps(row) + "\n")
    return path


@pytest.mark.django_db(transaction=True)
def test_many_experts_at_once_decide_every_candidate_exactly_once(tea_campaign, tmp_path):
    # The 30 candidates come from one template, so they are near copies of each other: the
    # near-duplicate critics are off here, where the subject is leases.
    off = {"enabled": False}
    tea_campaign.config = {**tea_campaign.config, "critics": {"near_duplicate": off, "semantic": off}}
    tea_campaign.save(update_fields=["config"])
    candidates_import(path=_write_candidates(tmp_path / "race.jsonl", 30), campaign=tea_campaign)
    candidates_score(candidate_ids=list(tea_campaign.candidates.values_list("id", flat=True)))
    waiting = set(tea_campaign.candidates.filter(status="in_review").values_list("id", flat=True))
    assert len(waiting) == 30

    experts = [user_create(username=f"expert-{i}", role="expert") for i in range(8)]
    tokens = [token_create(username=u.username) for u in experts]
    start = threading.Barrier(len(experts))
    leased: dict[str, list[int]] = {u.username: [] for u in experts}
    errors: list[str] = []

    def work(username: str, raw: str) -> None:
        api = Api(Client())
        try:
            start.wait(timeout=10)
            for _ in range(100):  # far more than needed; a loop that never ends is a failure
                status, body = lease(api, raw)
                if status == 204:
                    return
                if status != 200:
                    errors.append(f"{username} next: {status} {body}")
                    return
                leased[username].append(body["id"])
                decision = "accept" if body["id"] % 2 else "reject"
                why = {"reasons": ["wrong"]} if decision == "reject" else {}
                status, answer = decide(api, raw, body["id"], decision, **why)
                if status != 200 or answer["replayed"]:
                    errors.append(f"{username} review {body['id']}: {status} {answer}")
            errors.append(f"{username} never got 204")
        except Exception as e:  # surfaced below; a thread's exception would be lost otherwise
            errors.append(f"{username}: {e!r}")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=work, args=(u.username, t)) for u, t in zip(experts, tokens, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)

    assert errors == []
    every_lease = [cid for ids in leased.values() for cid in ids]
    assert sorted(every_lease) == sorted(waiting)  # each candidate served to exactly one expert
    assert sum(1 for ids in leased.values() if ids) > 1  # the experts really did compete
    decisions = Review.objects.exclude(decision=Decision.SKIP)
    assert decisions.count() == 30
    assert set(decisions.values_list("candidate_id", flat=True)) == waiting
    for c in Candidate.objects.filter(pk__in=waiting):
        assert c.status == ("approved" if c.pk % 2 else "rejected")
        assert c.holders == 0 and c.decisions == 1


def test_a_malformed_decision_gets_one_clear_line(api, tea_in_review, bob, token):
    raw = token(bob)
    cid = leased_id(api, raw)
    status, body = decide(api, raw, cid, "maybe")
    assert status == 400
    assert body["detail"].startswith("decision: Input should be 'accept'")
    assert Candidate.objects.get(pk=cid).status == CandidateStatus.IN_REVIEW
