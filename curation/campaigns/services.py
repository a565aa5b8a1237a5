"""Campaign lifecycle: create or update from a config; start, pause, resume and cancel.
Generation and scoring (their own apps) do the work and report back through
campaigns/status.py. Every transition is a conditional update and idempotent."""

from __future__ import annotations

from django.db import transaction

from curation.campaigns.config import CampaignConfig
from curation.campaigns.models import Campaign, CampaignStatus
from curation.campaigns.status import campaign_settle
from curation.core.errors import Conflict, NotFound
from curation.generation.batches import batches_cancel, batches_requeue_failed, generation_kick
from curation.scoring.services import scoring_queue
from curation.sources.models import Source


def campaign_config_check(*, config: CampaignConfig) -> Source:
    """What a config needs from the database beyond its own validation: its source.
    The admin form calls it too, so a bad config shows as a form error, never half-saved."""
    try:
        return Source.objects.get(name=config.source)
    except Source.DoesNotExist:
        raise NotFound(
            f"source: no source named {config.source!r} (import it with import_examples)"
        ) from None


def campaign_create_or_update(*, config: CampaignConfig) -> tuple[Campaign, bool]:
    source = campaign_config_check(config=config)
    fields = {
        "name": config.name,
        "task": config.task,
        "source": source,
        "count": config.count,
        "config": config.model_dump(mode="json"),
    }
    campaign, created = Campaign.objects.update_or_create(slug=config.slug, defaults=fields)
    return campaign, created


def _locked(campaign: Campaign) -> Campaign:
    return Campaign.objects.select_for_update().get(pk=campaign.pk)


def campaign_start(*, campaign: Campaign) -> int:
    """Start (or restart) generation and queue the scoring of unscored candidates: failed
    batches get a fresh set of attempts, a paused campaign resumes. Publishes a bounded
    number of turns, whatever the campaign's size. Returns how many. Safe to call again."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status == CampaignStatus.CANCELLED:
            raise Conflict(
                f"campaign {campaign.slug} was cancelled and stays stopped; "
                "create a campaign with a new slug to generate more"
            )
        batches_requeue_failed(campaign=campaign)
        campaign.status = CampaignStatus.RUNNING
        campaign.error = ""
        campaign.save(update_fields=["status", "error", "updated_at"])
        turns = generation_kick(campaign=campaign)
        scoring_queue(campaign=campaign)
        campaign_settle(campaign_id=campaign.pk)
    return turns


def campaign_score(*, campaign: Campaign) -> int:
    """Queue the critics for every unscored candidate (imported ones included). The
    campaign's status is generation's: scoring alone does not change it."""
    with transaction.atomic():
        return scoring_queue(campaign=campaign)


def campaign_pause(*, campaign: Campaign) -> bool:
    """running -> paused: no new generation batch starts (turns find nothing to claim and
    end); the batches running finish and are scored. Returns False when already paused."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status == CampaignStatus.PAUSED:
            return False
        if campaign.status != CampaignStatus.RUNNING:
            raise Conflict(f"campaign {campaign.slug} is {campaign.status}: only a running campaign pauses")
        campaign.status = CampaignStatus.PAUSED
        campaign.save(update_fields=["status", "updated_at"])
    return True


def campaign_resume(*, campaign: Campaign) -> bool:
    """paused -> running, with fresh turns. Returns False when already running."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status == CampaignStatus.RUNNING:
            return False
        if campaign.status != CampaignStatus.PAUSED:
            raise Conflict(
                f"campaign {campaign.slug} is {campaign.status}: only a paused campaign resumes"
                + (
                    " (run_campaign starts a draft or failed one)"
                    if campaign.status in ("draft", "failed")
                    else ""
                )
            )
        campaign.status = CampaignStatus.RUNNING
        campaign.save(update_fields=["status", "updated_at"])
        generation_kick(campaign=campaign)
        campaign_settle(campaign_id=campaign.pk)
    return True


def campaign_cancel(*, campaign: Campaign) -> bool:
    """Stop for good: batches not started are cancelled, running ones finish; everything
    generated is still scored and reviewable. Returns False when already cancelled."""
    with transaction.atomic():
        campaign = _locked(campaign)
        if campaign.status == CampaignStatus.CANCELLED:
            return False
        if campaign.status == CampaignStatus.DONE:
            raise Conflict(f"campaign {campaign.slug} is done: there is nothing left to cancel")
        campaign.status = CampaignStatus.CANCELLED
        campaign.save(update_fields=["status", "updated_at"])
        batches_cancel(campaign=campaign)
    return True
