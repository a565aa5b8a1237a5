"""What the stages below a campaign report back to it: a failure (with its error text)
and the end of its work. Conditional updates, so concurrent workers never undo each other."""

from __future__ import annotations

from django.utils import timezone

from curation.campaigns.models import Campaign, CampaignStatus, Candidate, CandidateStatus
from curation.generation.models import BatchStatus, GenerationBatch

UNSCORED = (CandidateStatus.GENERATED, CandidateStatus.SCORED)


def campaign_fail(*, campaign_id: int, error: str) -> bool:
    """Any campaign but a failed one fails; the first error is the one kept (later ones are
    usually its consequences). Returns whether this call failed it."""
    return bool(
        Campaign.objects.filter(pk=campaign_id)
        .exclude(status=CampaignStatus.FAILED)
        .update(status=CampaignStatus.FAILED, error=error[:4000] or "failed", updated_at=timezone.now())
    )


def generation_finished(campaign: Campaign) -> bool:
    """Every slot of [0, count) is in a batch, and every batch is done."""
    batches = GenerationBatch.objects.filter(campaign=campaign)
    tail = batches.order_by("-index").values_list("start", "size").first()
    covered = tail[0] + tail[1] if tail else 0
    return covered >= campaign.count and not batches.exclude(status=BatchStatus.DONE).exists()


def campaign_settle(*, campaign_id: int) -> bool:
    """running -> done once every slot is generated and every candidate triaged. A paused,
    cancelled or failed campaign keeps its status. Returns whether it settled now."""
    campaign = Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.RUNNING).first()
    if campaign is None or not generation_finished(campaign):
        return False
    if Candidate.objects.filter(campaign_id=campaign_id, status__in=UNSCORED).exists():
        return False
    return bool(
        Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.RUNNING).update(
            status=CampaignStatus.DONE, updated_at=timezone.now()
        )
    )


def campaigns_settle() -> int:
    """The sweeper's pass: settle running campaigns whose last report was lost (a worker
    killed between storing its work and settling)."""
    ids = Campaign.objects.filter(status=CampaignStatus.RUNNING).values_list("pk", flat=True)
    return sum(campaign_settle(campaign_id=pk) for pk in ids)
