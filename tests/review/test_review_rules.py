"""One rule set for the page and the API, enforced in the service: a rejection says why, in
the campaign's own reason codes; a resend that differs from the recorded decision is refused
instead of answered as a replay; browser line endings are normalized."""

from __future__ import annotations

from curation.campaigns.config import parse_config
from curation.campaigns.services import campaign_create_or_update
from curation.review.models import Review
from tests.review.test_leases import decide, leased_id


def test_a_rejection_needs_a_reason_or_a_note(api, tea_in_review, bob, token):
    raw = token(bob)
    cid = leased_id(api, raw)
    status, body = decide(api, raw, cid, "reject")
    assert status == 400 and "say why you reject it" in body["detail"]
    status, body = decide(api, raw, cid, "reject", reasons=["  "], note="  ")
    assert status == 400
    assert not Review.objects.exists()
    assert decide(api, raw, cid, "reject", note="the amount is wrong")[0] == 200


def test_unknown_reason_codes_are_refused_with_the_campaigns_vocabulary(api, tea_in_review, bob, token):
    raw = token(bob)
    cid = leased_id(api, raw)
    status, body = decide(api, raw, cid, "reject", reasons=["wrong", "meh"])
    assert status == 400
    assert "unknown reason 'meh'" in body["detail"]
    assert all(code in body["detail"] for code in ("wrong", "unhelpful", "off-topic"))
    assert not Review.objects.exists()


def test_a_campaign_sets_its_own_reason_codes(api, tea_in_review, bob, token, client):
    config = parse_config(
        {**tea_in_review.config, "review": {"reasons": {"bad-math": "arithmetic is wrong", "tone": "rude"}}}
    )
    campaign_create_or_update(config=config)
    raw = token(bob)
    cid = leased_id(api, raw)
    assert decide(api, raw, cid, "reject", reasons=["wrong"])[0] == 400  # not this campaign's
    assert decide(api, raw, cid, "reject", reasons=["bad-math"])[0] == 200
    client.force_login(bob)
    page = client.get("/review/tea/").content.decode()
    assert "arithmetic is wrong" in page and "factually wrong" not in page


def test_a_resend_with_other_reasons_is_refused_not_replayed(api, tea_in_review, bob, token):
    raw = token(bob)
    cid = leased_id(api, raw)
    assert decide(api, raw, cid, "reject", reasons=["wrong"])[0] == 200
    status, body = decide(api, raw, cid, "reject", reasons=["wrong"])
    assert status == 200 and body["replayed"] is True
    status, body = decide(api, raw, cid, "reject", reasons=["unsafe"])
    assert status == 409 and "other reasons, edit or note" in body["detail"]
    assert Review.objects.get().reasons == ["wrong"]  # kept as first recorded


def test_edits_and_notes_from_a_browser_are_stored_with_plain_newlines(api, tea_in_review, bob, token):
    raw = token(bob)
    cid = leased_id(api, raw)
    status, _ = decide(api, raw, cid, "edit", edited_response="line one\r\nline two\rthree", note="a\r\nb")
    assert status == 200
    review = Review.objects.get()
    assert review.edited_response == "line one\nline two\nthree" and review.note == "a\nb"
    assert review.candidate.edited_response == "line one\nline two\nthree"
    # The browser resends the same text with its CRLF: the same decision, a replay.
    status, body = decide(api, raw, cid, "edit", edited_response="line one\r\nline two\rthree", note="a\r\nb")
    assert status == 200 and body["replayed"] is True


def test_the_reasons_keep_the_order_the_admin_wrote(tea_in_review):
    """PostgreSQL's jsonb reorders an object's keys; the page numbers reasons 1-9 in order."""
    from curation.campaigns.config import stored_config
    from curation.campaigns.models import Campaign

    reasons = {"zeta": "last letter", "alpha": "first letter", "mid": "in between"}
    config = parse_config({**tea_in_review.config, "review": {"reasons": reasons}})
    campaign_create_or_update(config=config)
    stored = Campaign.objects.get(pk=tea_in_review.pk).config
    assert list(stored_config(stored).review.reasons) == ["zeta", "alpha", "mid"]
