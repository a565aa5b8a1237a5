"""Reinstating an auto-rejected candidate: over the API, on the campaign page and in the
admin, recorded with who and why; refused for anyone but an admin and for any other status."""

from __future__ import annotations

from curation.campaigns.models import Candidate, CandidateStatus
from curation.scoring.models import Reinstatement


def _rejected(campaign) -> Candidate:
    return campaign.candidates.filter(status=CandidateStatus.AUTO_REJECTED).order_by("pk").first()


def test_an_admin_reinstates_over_the_api_and_it_is_recorded(api, alice, bob, token, tea_in_review):
    c = _rejected(tea_in_review)
    before = list(c.reasons)
    status, body = api.post(
        f"/api/v1/candidates/{c.pk}/reinstate", token(alice), {"reason": "short but right"}
    )
    assert status == 200, body
    assert body == {
        "id": c.pk,
        "status": "in_review",
        "reasons_before": before,
        "reinstated_by": "alice",
        "reason": "short but right",
    }
    c.refresh_from_db()
    assert c.status == CandidateStatus.IN_REVIEW and c.reasons == []
    record = Reinstatement.objects.get(candidate=c)
    assert (record.by, record.reason, record.reasons_before) == (alice, "short but right", before)
    # An expert now gets it from the queue like any other candidate in review.
    served = set()
    for _ in range(10):
        s, got = api.post("/api/v1/campaigns/tea/next", token(bob))
        if s == 204:
            break
        served.add(got["id"])
        api.post(f"/api/v1/candidates/{got['id']}/review", token(bob), {"decision": "accept"})
    assert c.pk in served


def test_reinstating_is_refused_to_others_and_for_other_statuses(
    api, alice, bob, charlie, token, tea_in_review
):
    c = _rejected(tea_in_review)
    for user in (bob, charlie):
        status, _ = api.post(f"/api/v1/candidates/{c.pk}/reinstate", token(user), {"reason": "x"})
        assert status == 403
    assert api.post(f"/api/v1/candidates/{c.pk}/reinstate", None, {"reason": "x"})[0] == 401
    status, body = api.post(f"/api/v1/candidates/{c.pk}/reinstate", token(alice), {"reason": "  "})
    assert status == 400 and "reason" in body["detail"]
    in_review = tea_in_review.candidates.filter(status=CandidateStatus.IN_REVIEW).first()
    status, body = api.post(f"/api/v1/candidates/{in_review.pk}/reinstate", token(alice), {"reason": "x"})
    assert status == 409 and "not auto_rejected" in body["detail"]
    assert api.post("/api/v1/candidates/999999/reinstate", token(alice), {"reason": "x"})[0] == 404
    assert not Reinstatement.objects.exists()


def test_the_campaign_page_reinstates_for_admins_only(client, alice, bob, tea_in_review):
    c = _rejected(tea_in_review)
    client.force_login(bob)
    page = client.get("/campaigns/tea/?status=auto_rejected").content.decode()
    assert "Send back to review" not in page
    assert client.post(f"/campaigns/tea/candidates/{c.pk}/reinstate", {"reason": "x"}).status_code == 403
    client.force_login(alice)
    page = client.get("/campaigns/tea/?status=auto_rejected").content.decode()
    assert f'action="/campaigns/tea/candidates/{c.pk}/reinstate"' in page
    response = client.post(
        f"/campaigns/tea/candidates/{c.pk}/reinstate", {"reason": "worth a look"}, follow=True
    )
    assert "back in review" in response.content.decode()
    c.refresh_from_db()
    assert c.status == CandidateStatus.IN_REVIEW
    assert Reinstatement.objects.get(candidate=c).by == alice


def test_the_admin_action_asks_why_then_reinstates(client, alice, tea_in_review):
    c = _rejected(tea_in_review)
    client.force_login(alice)
    url = "/admin/campaigns/candidate/"
    form = client.post(url, {"action": "reinstate", "_selected_action": [c.pk]})
    assert form.status_code == 200 and b"Why they deserve review" in form.content
    client.post(
        url, {"action": "reinstate", "_selected_action": [c.pk], "reason": "admin says so", "apply": "1"}
    )
    c.refresh_from_db()
    assert c.status == CandidateStatus.IN_REVIEW
    assert Reinstatement.objects.get(candidate=c).reason == "admin says so"
