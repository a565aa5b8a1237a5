"""What one `next` and one decision cost the database: a bound on the queries each makes in
the steady state (bench/review.py times them at a million candidates), and the lease a
refused decision must leave held now that a decision ends the lease before the checks
that may refuse it."""

from __future__ import annotations

from django.utils import timezone

from curation.campaigns.models import Candidate, CandidateStatus
from curation.review.models import Assignment


def test_next_and_a_decision_cost_a_bounded_number_of_queries(
    api, tea_in_review, bob, token, django_assert_max_num_queries
):
    raw = token(bob)
    api.get("/api/v1/campaigns", raw)  # the first use of a token stamps it; measure the steady state
    # token, campaign, a lease held?; in a transaction (a savepoint and its release here):
    # the pick, its seat, the commit setting, the lease; then the critics' scores
    with django_assert_max_num_queries(10):
        status, item = api.post("/api/v1/campaigns/tea/next", raw)
    assert status == 200, item
    # token; in a transaction (a savepoint and its release here): the row lock, the
    # expert's own reviews, the lease ended, the review, the row, the learned critic's check (two)
    with django_assert_max_num_queries(10):
        status, body = api.post(f"/api/v1/candidates/{item['id']}/review", raw, {"decision": "accept"})
    assert status == 200, body
    assert body["status"] == CandidateStatus.APPROVED
    assert not Assignment.objects.filter(candidate_id=item["id"]).exists()


def test_a_refused_decision_leaves_the_lease_held(api, tea_in_review, bob, token):
    raw = token(bob)
    status, item = api.post("/api/v1/campaigns/tea/next", raw)
    assert status == 200, item
    # decided meanwhile by other means (as an admin's action would)
    Candidate.objects.filter(pk=item["id"]).update(
        status=CandidateStatus.REJECTED, decided_at=timezone.now(), holders=0
    )
    status, body = api.post(f"/api/v1/candidates/{item['id']}/review", raw, {"decision": "accept"})
    assert status == 409, body
    assert Assignment.objects.filter(candidate_id=item["id"], expert=bob).exists()
    assert not Candidate.objects.get(pk=item["id"]).reviews.exists()
