"""The review policy (CONTRACT "Review policy"): several experts per item, agreement,
adjudication, undo, release, the lease reaper, and the invariants the database keeps."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.utils import timezone

from curation.accounts.services import token_create, user_create
from curation.campaigns.config import ReviewConfig
from curation.campaigns.imports import candidates_import
from curation.campaigns.models import Candidate, CandidateStatus
from curation.core.errors import Conflict, Forbidden
from curation.review.assignments import assignments_reap, candidate_lease_next, candidate_release
from curation.review.models import Adjudication, Assignment, Decision, Review
from curation.review.selectors import campaign_agreement
from curation.review.services import candidate_adjudicate, candidate_review, review_undo, review_undo_last
from curation.scoring.services import candidates_score
from tests.conftest import Api
from tests.review.test_leases import _write_candidates


def two_each(campaign) -> list[Candidate]:
    """Every candidate in review needs two experts."""
    campaign.candidates.filter(status=CandidateStatus.IN_REVIEW).update(needed=2)
    return list(campaign.candidates.filter(status=CandidateStatus.IN_REVIEW).order_by("-priority", "id"))


def decide(user, campaign, decision="accept", **fields) -> Candidate:
    c = candidate_lease_next(user=user, campaign=campaign)
    assert c is not None
    if decision == "reject" and "reasons" not in fields:
        fields["reasons"] = ["wrong"]
    return candidate_review(user=user, candidate_id=c.pk, decision=decision, **fields).candidate


def test_two_experts_hold_one_candidate_at_once_and_a_third_gets_another(tea_in_review, bob, erin, alice):
    first, second, *_ = two_each(tea_in_review)
    assert candidate_lease_next(user=bob, campaign=tea_in_review).pk == first.pk
    assert candidate_lease_next(user=erin, campaign=tea_in_review).pk == first.pk
    assert candidate_lease_next(user=alice, campaign=tea_in_review).pk == second.pk  # no seat left
    first.refresh_from_db()
    assert (first.holders, first.decisions) == (2, 0)
    assert sorted(Assignment.objects.filter(candidate=first).values_list("expert__username", flat=True)) == [
        "bob",
        "erin",
    ]


def test_agreeing_decisions_decide_and_an_expert_never_sees_an_item_twice(tea_in_review, bob, erin):
    first, *_ = two_each(tea_in_review)
    c = decide(bob, tea_in_review)
    assert (c.pk, c.status, c.decisions) == (first.pk, "in_review", 1)
    assert candidate_lease_next(user=bob, campaign=tea_in_review).pk != first.pk  # bob moves on
    c = decide(erin, tea_in_review)
    assert (c.pk, c.status, c.decisions, c.holders) == (first.pk, "approved", 2, 0)
    assert c.decided_at is not None


@pytest.mark.parametrize(
    ("one", "other", "status"),
    [
        ({"decision": "accept"}, {"decision": "reject", "reasons": ["wrong"]}, "in_adjudication"),
        ({"decision": "reject", "reasons": ["wrong"]}, {"decision": "reject", "note": "off"}, "rejected"),
        ({"decision": "edit", "edited_response": "Two grams."}, {"decision": "accept"}, "in_adjudication"),
        (
            {"decision": "edit", "edited_response": "Two grams."},
            {"decision": "edit", "edited_response": "Three grams."},
            "in_adjudication",  # two different edits disagree
        ),
        (
            {"decision": "edit", "edited_response": "Two grams.\r\n"},
            {"decision": "edit", "edited_response": "Two grams.\n"},
            "approved",  # the same edit, whatever the browser's line endings
        ),
    ],
)
def test_disagreements_and_only_they_go_to_adjudication(tea_in_review, bob, erin, one, other, status):
    first, *_ = two_each(tea_in_review)
    decide(bob, tea_in_review, **one)
    c = decide(erin, tea_in_review, **other)
    assert (c.pk, c.status) == (first.pk, status)
    if status == "approved":
        assert c.edited_response == "Two grams.\n" and c.response == first.response
    if status == "rejected":
        assert c.reasons == ["wrong"]


def test_an_admin_adjudicates_once_and_a_resend_is_answered(tea_in_review, bob, erin, alice):
    two_each(tea_in_review)
    decide(bob, tea_in_review, "accept")
    c = decide(erin, tea_in_review, "edit", edited_prompt="How much tea per cup?")
    assert c.status == "in_adjudication"
    with pytest.raises(Forbidden):
        candidate_adjudicate(user=bob, candidate_id=c.pk, decision="accept")
    with pytest.raises(Conflict):
        candidate_adjudicate(user=alice, candidate_id=c.pk + 1, decision="accept")  # not in adjudication
    done, replayed = candidate_adjudicate(
        user=alice, candidate_id=c.pk, decision="edit", edited_prompt="How much tea per cup?"
    )
    assert (done.status, done.edited_prompt, done.final_prompt, replayed) == (
        "approved",
        "How much tea per cup?",
        "How much tea per cup?",
        False,
    )
    assert done.prompt != done.edited_prompt  # the original is kept
    again, replayed = candidate_adjudicate(
        user=alice, candidate_id=c.pk, decision="edit", edited_prompt="How much tea per cup?"
    )
    assert replayed and again.status == "approved"
    with pytest.raises(Conflict):
        candidate_adjudicate(user=alice, candidate_id=c.pk, decision="reject", reasons=["wrong"])
    assert Adjudication.objects.filter(candidate=c).count() == 1


def test_adjudication_over_the_api(api, tea_in_review, bob, erin, alice, token):
    two_each(tea_in_review)
    decide(bob, tea_in_review, "accept")
    c = decide(erin, tea_in_review, "reject")
    status, body = api.post(f"/api/v1/candidates/{c.pk}/adjudicate", token(bob), {"decision": "accept"})
    assert status == 403
    status, body = api.post(f"/api/v1/candidates/{c.pk}/adjudicate", token(alice), {"decision": "skip"})
    assert status == 400 and "decision" in body["detail"]
    status, body = api.post(
        f"/api/v1/candidates/{c.pk}/adjudicate", token(alice), {"decision": "reject", "reasons": ["nope"]}
    )
    assert status == 400 and "unknown reason" in body["detail"]
    status, body = api.post(f"/api/v1/candidates/{c.pk}/adjudicate", token(alice), {"decision": "accept"})
    assert (status, body["status"], body["replayed"]) == (200, "approved", False)
    status, body = api.get("/api/v1/campaigns/tea/candidates?status=approved", token(alice))
    [item] = [i for i in body["items"] if i["id"] == c.pk]
    assert [(r["reviewer"], r["decision"], r["reasons"]) for r in item["reviews"]] == [
        ("bob", "accept", []),
        ("erin", "reject", ["wrong"]),
    ]
    assert item["adjudication"]["by"] == "alice" and item["adjudication"]["decision"] == "accept"


def test_undo_takes_back_a_decision_while_no_one_built_on_it(tea_in_review, bob, erin):
    c = decide(bob, tea_in_review, "reject", note="wrong item")  # per_item 1: bob's decision decided it
    assert c.status == "rejected"
    back = review_undo_last(user=bob, campaign=tea_in_review)
    assert (back.pk, back.status, back.decided_at, back.reasons, back.holders, back.decisions) == (
        c.pk,
        "in_review",
        None,
        [],
        1,
        0,
    )
    assert not Review.objects.filter(candidate=c).exists()
    assert candidate_lease_next(user=bob, campaign=tea_in_review).pk == c.pk  # bob holds it again
    assert candidate_review(user=bob, candidate_id=c.pk, decision="accept").candidate.status == "approved"


def test_undo_is_refused_once_another_expert_decided_after_you(tea_in_review, bob, erin):
    two_each(tea_in_review)
    first = decide(bob, tea_in_review, "accept")
    decide(erin, tea_in_review, "reject")  # erin's decision completes it: in adjudication
    with pytest.raises(Conflict, match="decided by others"):
        review_undo(user=bob, candidate_id=first.pk)
    back = review_undo(user=erin, candidate_id=first.pk)  # erin's was the last: she may
    assert (back.status, back.decisions, back.holders) == ("in_review", 1, 1)


def test_undo_of_a_skip_and_of_nothing(tea_in_review, bob):
    with pytest.raises(Conflict):
        review_undo_last(user=bob, campaign=tea_in_review)
    c = candidate_lease_next(user=bob, campaign=tea_in_review)
    candidate_review(user=bob, candidate_id=c.pk, decision="skip")
    back = review_undo_last(user=bob, campaign=tea_in_review)
    assert (back.pk, back.holders, back.decisions) == (c.pk, 1, 0)


def test_release_gives_a_candidate_back_to_the_queue(tea_in_review, bob, erin):
    c = candidate_lease_next(user=bob, campaign=tea_in_review)
    assert candidate_release(user=bob, candidate_id=c.pk) is True
    assert candidate_release(user=bob, candidate_id=c.pk) is False  # twice is not an error
    assert Candidate.objects.get(pk=c.pk).holders == 0
    assert candidate_lease_next(user=erin, campaign=tea_in_review).pk == c.pk


def test_the_reaper_returns_abandoned_leases_and_keeps_live_ones(tea_in_review, bob, erin):
    gone = candidate_lease_next(user=bob, campaign=tea_in_review)
    live = candidate_lease_next(user=erin, campaign=tea_in_review)
    Assignment.objects.filter(candidate=gone).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert assignments_reap() == 1
    assert list(Assignment.objects.values_list("candidate_id", flat=True)) == [live.pk]
    assert Candidate.objects.get(pk=gone.pk).holders == 0
    with pytest.raises(Conflict, match="not leased to you"):
        candidate_review(user=bob, candidate_id=gone.pk, decision="accept")


def test_the_sweeper_runs_the_reaper(tea_in_review, bob):
    from curation.core.sweeper import sweep

    c = candidate_lease_next(user=bob, campaign=tea_in_review)
    Assignment.objects.filter(candidate=c).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert sweep()["leases"] == 1


FRESH = {
    "over-needed": lambda c, u: Candidate.objects.filter(pk=c.pk).update(decisions=2),
    "decided-without-time": lambda c, u: Candidate.objects.filter(pk=c.pk).update(status="approved"),
    "time-while-undecided": lambda c, u: Candidate.objects.filter(pk=c.pk).update(decided_at=timezone.now()),
    "edit-while-in-review": lambda c, u: Candidate.objects.filter(pk=c.pk).update(edited_response="x"),
    "adjudication-undecided": lambda c, u: Candidate.objects.filter(pk=c.pk).update(status="in_adjudication"),
    "edit-without-text": lambda c, u: Review.objects.create(candidate=c, reviewer=u, decision="edit"),
    "text-without-edit": lambda c, u: Review.objects.create(
        candidate=c, reviewer=u, decision="accept", edited_response="x"
    ),
}
DECIDED = {
    "second-decision": lambda c, u: Review.objects.create(candidate=c, reviewer=u, decision="reject"),
    "second-outcome": lambda c, u: Adjudication.objects.create(candidate=c, by=u, decision="reject"),
    "lease-on-decided": lambda c, u: Candidate.objects.filter(pk=c.pk).update(holders=1),
}


@pytest.mark.parametrize("name", [*FRESH, *DECIDED])
def test_the_database_refuses_what_breaks_the_invariants(tea_in_review, bob, alice, name):
    decided = decide(bob, tea_in_review, "accept")
    Adjudication.objects.create(candidate=decided, by=alice, decision="accept")  # its one outcome
    fresh = tea_in_review.candidates.filter(status=CandidateStatus.IN_REVIEW).first()
    target, write = (fresh, FRESH[name]) if name in FRESH else (decided, DECIDED[name])
    with pytest.raises(IntegrityError), transaction.atomic():
        write(target, bob)


def test_the_policy_draws_a_seeded_overlap_share():
    policy = ReviewConfig(per_item=1, overlap=0.25)
    drawn = [policy.needed(f"7:{i}") for i in range(2000)]
    assert set(drawn) == {1, 2}
    assert 0.22 < drawn.count(2) / len(drawn) < 0.28
    assert drawn == [policy.needed(f"7:{i}") for i in range(2000)]  # every process agrees
    assert {ReviewConfig(per_item=3, overlap=1).needed(str(i)) for i in range(50)} == {3}
    assert {ReviewConfig().needed(str(i)) for i in range(50)} == {1}


def test_triage_gives_each_candidate_its_policy(tea_campaign, tmp_path):
    tea_campaign.config = {
        **tea_campaign.config,
        "review": {**tea_campaign.config["review"], "per_item": 1, "overlap": 0.5},
        "critics": {"near_duplicate": {"enabled": False}, "semantic": {"enabled": False}},
    }
    tea_campaign.save(update_fields=["config"])
    candidates_import(path=_write_candidates(tmp_path / "c.jsonl", 30), campaign=tea_campaign)
    candidates_score(candidate_ids=list(tea_campaign.candidates.values_list("id", flat=True)))
    needed = list(tea_campaign.candidates.filter(status="in_review").values_list("needed", flat=True))
    assert len(needed) == 30 and set(needed) == {1, 2}


def test_agreement_against_hand_computed_figures(tea_campaign, tmp_path, capsys):
    """Four items, two experts each: (accept, accept), (accept, reject), (reject, reject),
    (accept, accept). Agreement 3/4 = 75 %. Fleiss: p(accept) = 5/8, p(reject) = 3/8,
    P_e = 25/64 + 9/64 = 0.53125, P = 0.75, kappa = (0.75 - 0.53125) / 0.46875 = 0.4667."""
    off = {"enabled": False}
    tea_campaign.config = {**tea_campaign.config, "critics": {"near_duplicate": off, "semantic": off}}
    tea_campaign.save(update_fields=["config"])
    candidates_import(path=_write_candidates(tmp_path / "c.jsonl", 4), campaign=tea_campaign)
    candidates_score(candidate_ids=list(tea_campaign.candidates.values_list("id", flat=True)))
    items = two_each(tea_campaign)
    assert len(items) == 4
    ann, ben = user_create(username="ann", role="expert"), user_create(username="ben", role="expert")
    plan = {items[0].pk: ("accept", "accept"), items[1].pk: ("accept", "reject")}
    plan |= {items[2].pk: ("reject", "reject"), items[3].pk: ("accept", "accept")}
    for expert, k in ((ann, 0), (ben, 1)):
        for _ in range(4):
            c = candidate_lease_next(user=expert, campaign=tea_campaign)
            why = {"reasons": ["wrong"]} if plan[c.pk][k] == "reject" else {}
            candidate_review(user=expert, candidate_id=c.pk, decision=plan[c.pk][k], **why)
    figures = campaign_agreement(campaign=tea_campaign)
    assert (figures["items"], figures["percent"], figures["kappa"]) == (4, 75.0, 0.4667)
    # Krippendorff's alpha, nominal: 8 pairable values, n_accept 5, n_reject 3; the coincidences
    # off the diagonal are o(a,r) = o(r,a) = 1 (the one split item). alpha = 1 - (n - 1) *
    # (o(a,r) + o(r,a)) / (2 n_a n_r) = 1 - 7 * 2 / 30 = 0.5333.
    assert figures["alpha"] == round(1 - 7 * 2 / 30, 4)
    [pair] = figures["pairs"] if figures["pairs"] else [None]
    assert pair is None  # fewer than 5 common items: no pair table yet
    call_command("show_campaign", "tea", "--json")
    body = json.loads(capsys.readouterr().out)
    assert body["agreement"]["items"] == 4 and body["agreement"]["kappa"] == 0.4667


@pytest.mark.django_db(transaction=True)
def test_twenty_experts_with_per_item_two_on_postgresql(tea_campaign, tmp_path):
    """Every item gets exactly two decisions from distinct experts; disagreements land in
    adjudication; nothing is lost or doubled."""
    if connection.vendor != "postgresql":
        pytest.skip("the concurrency test runs on PostgreSQL")
    off = {"enabled": False}
    tea_campaign.config = {
        **tea_campaign.config,
        "review": {**tea_campaign.config["review"], "per_item": 2},
        "critics": {"near_duplicate": off, "semantic": off},
    }
    tea_campaign.save(update_fields=["config"])
    candidates_import(path=_write_candidates(tmp_path / "race.jsonl", 40), campaign=tea_campaign)
    candidates_score(candidate_ids=list(tea_campaign.candidates.values_list("id", flat=True)))
    waiting = set(tea_campaign.candidates.filter(status="in_review", needed=2).values_list("id", flat=True))
    assert len(waiting) == 40

    experts = [user_create(username=f"expert-{i}", role="expert") for i in range(20)]
    tokens = {u.username: token_create(username=u.username) for u in experts}
    start = threading.Barrier(len(experts))
    decided: dict[int, list[tuple[str, str]]] = {}
    errors: list[str] = []
    lock = threading.Lock()

    def work(i: int, username: str) -> None:
        api = Api(Client())
        raw = tokens[username]
        try:
            start.wait(timeout=10)
            for _ in range(200):
                status, body = api.post("/api/v1/campaigns/tea/next", raw)
                if status == 204:
                    return
                if status != 200:
                    errors.append(f"{username} next: {status} {body}")
                    return
                cid = body["id"]
                decision = "reject" if (cid + i) % 5 == 0 else "accept"
                payload = {"decision": decision, **({"reasons": ["wrong"]} if decision == "reject" else {})}
                status, answer = api.post(f"/api/v1/candidates/{cid}/review", raw, payload)
                if status != 200 or answer["replayed"]:
                    errors.append(f"{username} review {cid}: {status} {answer}")
                    continue
                with lock:
                    decided.setdefault(cid, []).append((username, decision))
            errors.append(f"{username} never got 204")
        except Exception as e:
            errors.append(f"{username}: {e!r}")
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, u.username)) for i, u in enumerate(experts)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert set(decided) == waiting
    for cid, votes in decided.items():
        assert len(votes) == 2 and votes[0][0] != votes[1][0], (cid, votes)
    split = {cid for cid, votes in decided.items() if votes[0][1] != votes[1][1]}
    assert split  # the plan makes some disagree
    assert set(Candidate.objects.filter(status="in_adjudication").values_list("id", flat=True)) == split
    assert Review.objects.exclude(decision=Decision.SKIP).count() == 80
    assert not Assignment.objects.exists()
    assert set(Candidate.objects.filter(pk__in=waiting).values_list("decisions", "holders")) == {(2, 0)}
    figures = campaign_agreement(campaign=tea_campaign)
    assert figures["items"] == 40 and figures["percent"] == round(100 * (40 - len(split)) / 40, 1)


def test_an_edit_records_its_word_edit_distance(api, tea_in_review, bob, token):
    c = candidate_lease_next(user=bob, campaign=tea_in_review)
    words = c.response.split()
    edited = " ".join(["Roughly", *words[1:], "Enjoy."])  # one word replaced, one added
    candidate_review(
        user=bob,
        candidate_id=c.pk,
        decision="edit",
        edited_response=edited,
        edited_prompt=c.prompt + " please",
    )
    assert Review.objects.get(candidate=c).edit_distance == 3  # 2 in the response, 1 in the prompt
    _, body = api.get("/api/v1/campaigns/tea/candidates?status=approved", token(bob))
    [item] = body["items"]
    assert item["reviews"][0]["edit_distance"] == 3 and item["edited_prompt"].endswith(" please")


def test_reasons_and_edited_text_only_go_with_their_decision(api, tea_in_review, bob, token):
    c = candidate_lease_next(user=bob, campaign=tea_in_review)
    status, body = api.post(
        f"/api/v1/candidates/{c.pk}/review", token(bob), {"decision": "accept", "reasons": ["wrong"]}
    )
    assert status == 400 and "reasons are for rejections" in body["detail"]
    status, body = api.post(
        f"/api/v1/candidates/{c.pk}/review", token(bob), {"decision": "accept", "edited_response": "Other."}
    )
    assert status == 400 and "needs the decision edit" in body["detail"]
    status, body = api.post(
        f"/api/v1/candidates/{c.pk}/review", token(bob), {"decision": "accept", "note": "fine as it is"}
    )
    assert status == 200
    assert not Review.objects.filter(candidate=c).exclude(reasons=[]).exists()


def test_release_says_whether_anything_was_released(api, tea_in_review, bob, token):
    c = candidate_lease_next(user=bob, campaign=tea_in_review)
    status, body = api.post(f"/api/v1/candidates/{c.pk}/release", token(bob))
    assert (status, body["released"], body["holders"]) == (200, True, 0)
    status, body = api.post(f"/api/v1/candidates/{c.pk}/release", token(bob))
    assert (status, body["released"]) == (200, False)


def test_a_members_only_campaign_is_invisible_to_other_experts_even_by_candidate_id(
    api, tea_in_review, bob, erin, alice, token
):
    from curation.campaigns.membership import campaign_members_set
    from curation.core.errors import InvalidInput

    campaign_members_set(campaign=tea_in_review, add=["bob"], members_only=True)
    c = candidate_lease_next(user=bob, campaign=tea_in_review)
    for path, body in [
        (f"/api/v1/candidates/{c.pk}/review", {"decision": "accept"}),
        (f"/api/v1/candidates/{c.pk}/undo", {}),
        (f"/api/v1/candidates/{c.pk}/release", {}),
    ]:
        status, answer = api.post(path, token(erin), body)
        assert (status, answer["detail"]) == (404, f"no candidate {c.pk}"), path  # as for an unknown id
    assert api.post("/api/v1/candidates/999999/undo", token(erin))[1]["detail"] == "no candidate 999999"
    assert api.post("/api/v1/campaigns/tea/next", token(erin))[0] == 404
    with pytest.raises(InvalidInput, match="not an expert"):
        campaign_members_set(campaign=tea_in_review, add=["alice"])


def test_expert_decisions_are_read_only_in_the_django_admin(client, tea_in_review, bob, alice):
    c = decide(bob, tea_in_review, "accept")
    review = Review.objects.get(candidate=c)
    client.force_login(alice)
    assert client.get("/admin/review/review/").status_code == 200
    assert client.post(f"/admin/review/review/{review.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.get("/admin/review/review/add/").status_code == 403
    assert Review.objects.filter(pk=review.pk).exists()
