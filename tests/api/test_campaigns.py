"""GET /api/v1/campaigns/{slug}: status, counts, the error text of a failed campaign, and
generation progress with its rate and ETA."""

from __future__ import annotations

from curation.campaigns.models import Campaign, CampaignStatus
from curation.campaigns.services import campaign_start
from curation.campaigns.status import campaign_fail


def test_a_campaign_shows_its_progress(api, charlie, token, tea_campaign):
    campaign_start(campaign=tea_campaign)
    status, body = api.get("/api/v1/campaigns/tea", token(charlie))
    assert status == 200 and body["status"] == "running" and body["error"] == ""
    assert body["progress"] == {
        "done": 0,
        "total": 4,
        "per_minute": 0.0,
        "tokens_per_s": 0.0,
        "eta_s": None,
        "batches": {"pending": 0, "running": 0, "done": 0, "failed": 0, "cancelled": 0},
    }


def test_a_failed_campaign_shows_its_error_text(api, charlie, token, tea_campaign):
    campaign_start(campaign=tea_campaign)
    assert campaign_fail(campaign_id=tea_campaign.pk, error="generation failed (batch 0): the engine broke")
    assert not campaign_fail(campaign_id=tea_campaign.pk, error="a later consequence")  # the first is kept
    assert Campaign.objects.get(pk=tea_campaign.pk).status == CampaignStatus.FAILED
    for path in ("/api/v1/campaigns/tea", "/api/v1/campaigns"):
        status, body = api.get(path, token(charlie))
        shown = body if isinstance(body, dict) else body[0]
        assert status == 200 and shown["status"] == "failed"
        assert shown["error"] == "generation failed (batch 0): the engine broke"
