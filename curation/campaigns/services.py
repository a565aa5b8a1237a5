"""Campaign lifecycle: create or update from a config, start (queue generation and
scoring), and settle the campaign's status when its queued work is finished."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from curation.campaigns.config import CampaignConfig
from curation.campaigns.models import Campaign, CampaignStatus, Candidate, CandidateStatus
from curation.core.errors import NotFound
from curation.core.queue import enqueue_on_commit
from curation.generation.models import BatchStatus, GenerationBatch
from curation.sources.models import Source

UNSCORED = (CandidateStatus.GENERATED, CandidateStatus.SCORED)


def stale_before() -> timezone.datetime:
    """A batch 'running' since before this was lost with its worker (past the hard time limit)."""
    return timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)


def campaign_create_or_update(*, config: CampaignConfig) -> tuple[Campaign, bool]:
    try:
        source = Source.objects.get(name=config.source)
    except Source.DoesNotExist:
        raise NotFound(
            f"source: no source named {config.source!r} (import it with import_examples)"
        ) from None
    fields = {
        "name": config.name,
        "task": config.task,
        "source": source,
        "count": config.count,
        "config": config.model_dump(mode="json"),
    }
    campaign, created = Campaign.objects.update_or_create(slug=config.slug, defaults=fields)
    return campaign, created


def campaign_config(campaign: Campaign) -> CampaignConfig:
    return CampaignConfig.model_validate(campaign.config)


def _ensure_batches(campaign: Campaign) -> None:
    """Batches cover slots [0, count). Existing batches are kept as they are, so raising
    `count` later only adds batches for the new slots."""
    size = settings.ASSAY["GENERATION_BATCH_SIZE"]
    tail = campaign.batches.order_by("-index").first()
    covered, index = (tail.start + tail.size, tail.index + 1) if tail else (0, 0)
    new = [
        GenerationBatch(
            campaign=campaign, index=index + i, start=start, size=min(size, campaign.count - start)
        )
        for i, start in enumerate(range(covered, campaign.count, size))
    ]
    GenerationBatch.objects.bulk_create(new)


def campaign_start(*, campaign: Campaign) -> int:
    """Queue every batch not done (failed ones get a fresh start) and the scoring of
    unscored candidates. Safe to call again: it only queues what is missing."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().get(pk=campaign.pk)
        _ensure_batches(campaign)
        campaign.batches.filter(status=BatchStatus.FAILED).update(
            status=BatchStatus.PENDING, attempts=0, error=""
        )
        todo = list(
            campaign.batches.filter(
                Q(status=BatchStatus.PENDING) | Q(status=BatchStatus.RUNNING, updated_at__lt=stale_before())
            ).values_list("id", flat=True)
        )
        campaign.status = CampaignStatus.RUNNING
        campaign.error = ""
        campaign.save(update_fields=["status", "error", "updated_at"])
        for batch_id in todo:
            enqueue_on_commit("workers.generate_batch", batch_id)
        queue_scoring(campaign=campaign)
        campaign_settle(campaign_id=campaign.pk)
    return len(todo)


def campaign_score(*, campaign: Campaign) -> int:
    """Queue the critics for every unscored candidate (imported ones included)."""
    with transaction.atomic():
        n = queue_scoring(campaign=campaign)
        if n and campaign.status != CampaignStatus.RUNNING:
            Campaign.objects.filter(pk=campaign.pk).update(status=CampaignStatus.RUNNING, error="")
    return n


def queue_scoring(*, campaign: Campaign) -> int:
    ids = list(campaign.candidates.filter(status__in=UNSCORED).order_by("id").values_list("id", flat=True))
    size = settings.ASSAY["SCORING_BATCH_SIZE"]
    for i in range(0, len(ids), size):
        enqueue_on_commit("workers.score_candidates", ids[i : i + size])
    return len(ids)


def campaign_fail(*, campaign_id: int, error: str) -> None:
    """Only a running campaign fails; the first error is the one kept."""
    Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.RUNNING).update(
        status=CampaignStatus.FAILED, error=error[:4000], updated_at=timezone.now()
    )


def campaign_settle(*, campaign_id: int) -> None:
    """running -> done once every batch is done and every candidate is triaged."""
    busy_batches = GenerationBatch.objects.filter(campaign_id=campaign_id).exclude(status=BatchStatus.DONE)
    unscored = Candidate.objects.filter(campaign_id=campaign_id, status__in=UNSCORED)
    if busy_batches.exists() or unscored.exists():
        return
    Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.RUNNING).update(
        status=CampaignStatus.DONE, updated_at=timezone.now()
    )
