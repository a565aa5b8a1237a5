"""Pause, resume and cancel: the services (idempotent, refused where they make no sense),
the commands, the campaign page's buttons and live progress panel, and what an expert is
told when the review queue is empty while candidates are still on their way."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from curation.campaigns.config import parse_config
from curation.campaigns.models import Campaign, CampaignStatus
from curation.campaigns.services import (
    campaign_cancel,
    campaign_create_or_update,
    campaign_pause,
    campaign_resume,
    campaign_start,
)
from curation.core.errors import Conflict
from curation.generation.batches import batch_claim
from curation.generation.models import BatchStatus
from curation.generation.services import batch_generate, generation_turn


@pytest.fixture
def campaign(tea_sources, tiny_model, settings):
    settings.ASSAY = {**settings.ASSAY, "GENERATION_BATCH_SIZE": 2}
    config = {
        "slug": "tea-ctl",
        "source": "tea",
        "count": 6,
        "fewshot": 1,
        "generator": {"model": tiny_model, "params": {"max_tokens": 6, "seed": 1}},
    }
    return campaign_create_or_update(config=parse_config(config))[0]


def status(campaign: Campaign) -> str:
    campaign.refresh_from_db()
    return campaign.status


def command(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_a_paused_campaign_starts_no_batch_and_finishes_the_running_one(campaign):
    campaign_start(campaign=campaign)
    running = batch_claim(campaign_id=campaign.pk)
    assert campaign_pause(campaign=campaign) is True
    assert campaign_pause(campaign=campaign) is False  # idempotent
    assert status(campaign) == CampaignStatus.PAUSED
    assert batch_claim(campaign_id=campaign.pk) is None  # nothing new starts
    assert batch_generate(batch=running) == 2  # the running batch finishes
    assert generation_turn(campaign_id=campaign.pk) == 0
    assert campaign.candidates.count() == 2
    assert campaign_resume(campaign=campaign) is True
    assert campaign_resume(campaign=campaign) is False
    assert generation_turn(campaign_id=campaign.pk) == 4
    assert campaign.candidates.count() == 6


def test_a_cancelled_campaign_stops_for_good_and_keeps_what_it_made(campaign):
    campaign_start(campaign=campaign)
    running = batch_claim(campaign_id=campaign.pk)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING)
    campaign.batches.create(index=1, start=2, size=2)  # allocated, not started
    assert campaign_cancel(campaign=campaign) is True
    assert campaign_cancel(campaign=campaign) is False
    assert batch_generate(batch=running) == 2
    assert dict(campaign.batches.values_list("index", "status")) == {
        0: BatchStatus.DONE,
        1: BatchStatus.CANCELLED,
    }
    assert generation_turn(campaign_id=campaign.pk) == 0
    assert status(campaign) == CampaignStatus.CANCELLED
    with pytest.raises(Conflict, match="was cancelled and stays stopped"):
        campaign_start(campaign=campaign)
    with pytest.raises(Conflict, match="only a paused campaign resumes"):
        campaign_resume(campaign=campaign)


def test_controls_refuse_what_makes_no_sense(campaign):
    with pytest.raises(Conflict, match="is draft: only a running campaign pauses"):
        campaign_pause(campaign=campaign)
    with pytest.raises(Conflict, match=r"only a paused campaign resumes \(run_campaign starts"):
        campaign_resume(campaign=campaign)
    Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.DONE)
    with pytest.raises(Conflict, match="is done: there is nothing left to cancel"):
        campaign_cancel(campaign=campaign)


def test_the_commands_say_what_they_did_and_refuse_in_one_line(campaign):
    with pytest.raises(CommandError, match="only a running campaign pauses"):
        command("pause_campaign", "tea-ctl")
    campaign_start(campaign=campaign)
    assert command("pause_campaign", "tea-ctl").startswith("paused tea-ctl")
    assert command("pause_campaign", "tea-ctl").strip() == "tea-ctl was already paused"
    shown = json.loads(command("show_campaign", "tea-ctl", "--json"))
    assert shown["status"] == "paused"
    assert shown["progress"]["total"] == 6 and shown["progress"]["done"] == 0
    assert {"per_minute", "eta_s", "tokens_per_s", "batches"} <= set(shown["progress"])
    assert command("resume_campaign", "tea-ctl").strip() == "resumed tea-ctl"
    assert command("cancel_campaign", "tea-ctl").startswith("cancelled tea-ctl")
    assert command("cancel_campaign", "tea-ctl").strip() == "tea-ctl was already cancelled"
    with pytest.raises(CommandError, match="no campaign 'nope'"):
        command("cancel_campaign", "nope")


def test_admins_control_a_campaign_from_its_page(client, alice, campaign):
    client.force_login(alice)
    page = client.get("/campaigns/tea-ctl/").content.decode()
    assert 'value="run"' in page and 'value="pause"' not in page
    response = client.post("/campaigns/tea-ctl/control", {"action": "run"}, follow=True)
    assert "tea-ctl is now running." in response.content.decode()
    page = response.content.decode()
    assert 'value="pause"' in page and 'value="cancel"' in page
    assert 'hx-get="/campaigns/tea-ctl/live"' in page and 'hx-trigger="every 3s"' in page
    client.post("/campaigns/tea-ctl/control", {"action": "pause"})
    assert status(campaign) == CampaignStatus.PAUSED
    response = client.post("/campaigns/tea-ctl/control", {"action": "pause"}, follow=True)
    assert status(campaign) == CampaignStatus.PAUSED  # twice is harmless
    client.post("/campaigns/tea-ctl/control", {"action": "resume"})
    assert status(campaign) == CampaignStatus.RUNNING
    response = client.post("/campaigns/tea-ctl/control", {"action": "explode"}, follow=True)
    assert "unknown action" in response.content.decode()


def test_experts_and_viewers_cannot_control_a_campaign(client, bob, charlie, campaign):
    for user in (bob, charlie):
        client.force_login(user)
        assert client.post("/campaigns/tea-ctl/control", {"action": "run"}).status_code == 403
        page = client.get("/campaigns/tea-ctl/").content.decode()
        assert 'name="action"' not in page
    assert status(campaign) == CampaignStatus.DRAFT
    client.logout()
    assert client.post("/campaigns/tea-ctl/control", {"action": "run"}).status_code == 302  # to login


def test_the_live_panel_shows_progress_and_stops_polling_when_the_work_is_over(client, bob, campaign):
    client.force_login(bob)
    campaign_start(campaign=campaign)
    panel = client.get("/campaigns/tea-ctl/live").content.decode()
    assert 'data-progress="done">0</strong> of 6 generated' in panel
    assert "No worker serves the <code>gpu</code> queue" in panel  # none is alive in this test
    assert 'hx-trigger="every 3s"' in panel
    generation_turn(campaign_id=campaign.pk)
    from curation.scoring.services import candidates_score

    candidates_score(candidate_ids=list(campaign.candidates.values_list("pk", flat=True)))
    assert status(campaign) == CampaignStatus.DONE
    panel = client.get("/campaigns/tea-ctl/live").content.decode()
    assert 'data-progress="done">6</strong> of 6 generated' in panel and "per minute" in panel
    assert "hx-trigger" not in panel  # done: the page stops asking


def test_an_expert_with_an_empty_queue_is_told_more_is_coming(client, bob, campaign):
    client.force_login(bob)
    campaign_start(campaign=campaign)
    page = client.get("/review/tea-ctl/").content.decode()
    assert "More candidates are on their way" in page and "6 still to be generated" in page
    assert '<meta http-equiv="refresh" content="15">' in page
    campaign_cancel(campaign=campaign)
    page = client.get("/review/tea-ctl/").content.decode()
    assert "Nothing left to review" in page and "http-equiv" not in page


def test_run_campaign_wait_reports_a_stall_instead_of_waiting_forever(campaign, settings):
    """A worker is alive (its heartbeat is fresh) but nothing moves: the campaign's messages
    never reach it. `--wait` says so after ASSAY_WAIT_STALL_SECONDS, with no traceback."""
    from django.utils import timezone

    from curation.core.models import WorkerHeartbeat

    now = timezone.now()
    WorkerHeartbeat.objects.create(hostname="w@h", queues="cpu,gpu", pid=1, started_at=now, last_seen=now)
    settings.ASSAY = {**settings.ASSAY, "WAIT_STALL_SECONDS": 2}
    err = StringIO()
    with pytest.raises(
        CommandError, match=r"campaign tea-ctl stalled: nothing generated or scored for \d+ s"
    ):
        call_command("run_campaign", "tea-ctl", "--wait", stdout=StringIO(), stderr=err)
    assert "generation started, 6 of 6 candidates to make" in err.getvalue()
