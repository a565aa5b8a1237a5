"""Generation batches as the queue's memory: allocated when claimed, claimed by
conditional update under a lease, retried with backoff, failed after a bounded number of
attempts, and handed on by the sweeper when their worker is gone.

Messages only say "there is work in campaign C": each is a *turn* that claims whatever is
claimable. So a campaign of any size publishes a bounded number of messages, and a lost,
duplicated or redelivered message changes nothing."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Min, Q
from django.utils import timezone

from curation.campaigns.config import CampaignConfig, stored_config
from curation.campaigns.models import Campaign, CampaignStatus
from curation.campaigns.status import campaign_fail
from curation.core import leases
from curation.core.local_worker import live_workers
from curation.core.queue import enqueue_on_commit
from curation.generation.models import BatchStatus, GenerationBatch

log = logging.getLogger(__name__)

TASK = "workers.generate"
# Batch sizes when ASSAY_GENERATION_BATCH_SIZE is not set: a CPU batch finishes in about a
# minute, an endpoint batch keeps `concurrency` requests busy for about eight rounds, a vLLM
# batch fills the engine's scheduler.
_CPU_BATCH = 4
_ENDPOINT_ROUNDS = 8
_VLLM_BATCH = 256


def batch_size(config: CampaignConfig) -> int:
    if settings.ASSAY["GENERATION_BATCH_SIZE"] > 0:
        return settings.ASSAY["GENERATION_BATCH_SIZE"]
    gen = config.generator
    if gen.backend == "openai":
        return _ENDPOINT_ROUNDS * gen.concurrency
    return _VLLM_BATCH if gen.backend == "vllm" else _CPU_BATCH


def _ready() -> Q:
    return Q(status=BatchStatus.PENDING) & (Q(not_before__isnull=True) | Q(not_before__lte=timezone.now()))


def _covered(campaign: Campaign) -> tuple[int, int]:
    """(slots covered by batches, next batch index)."""
    tail = campaign.batches.order_by("-index").values_list("index", "start", "size").first()
    return (tail[1] + tail[2], tail[0] + 1) if tail else (0, 0)


def _allocate(campaign: Campaign) -> GenerationBatch | None:
    """The next batch at the tail, or None when [0, count) is covered. The caller holds the
    campaign's row lock, so two workers never allocate the same index."""
    covered, index = _covered(campaign)
    if covered >= campaign.count:
        return None
    size = min(batch_size(stored_config(campaign.config)), campaign.count - covered)
    return GenerationBatch.objects.create(campaign=campaign, index=index, start=covered, size=size)


def batch_claim(*, campaign_id: int) -> GenerationBatch | None:
    """Claim the campaign's next ready batch (allocating one if needed) for this process,
    under a lease; None when the campaign is not running or has nothing claimable now."""
    worker = leases.worker_id()
    with transaction.atomic():
        # The campaign's row lock serializes claims and allocation (PostgreSQL; SQLite
        # serializes every writer anyway), and orders them against pause and cancel.
        campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
        if campaign is None or campaign.status != CampaignStatus.RUNNING:
            return None
        batch = campaign.batches.filter(_ready()).order_by("index").first() or _allocate(campaign)
        if batch is None:
            return None
        now = timezone.now()
        claimed = GenerationBatch.objects.filter(pk=batch.pk, status=BatchStatus.PENDING).update(
            status=BatchStatus.RUNNING,
            claimed_by=worker,
            lease_expires_at=leases.lease_until(),
            attempts=F("attempts") + 1,
            started_at=now,
            finished_at=None,
            not_before=None,
            updated_at=now,
        )
        if not claimed:
            return None
    leases.hold(GenerationBatch, batch.pk)
    return GenerationBatch.objects.select_related("campaign__source").get(pk=batch.pk)


def batch_done(*, batch: GenerationBatch, tokens: int) -> bool:
    """running -> done, only while this process still holds it."""
    now = timezone.now()
    return bool(
        GenerationBatch.objects.filter(
            pk=batch.pk, status=BatchStatus.RUNNING, claimed_by=leases.worker_id()
        ).update(
            status=BatchStatus.DONE,
            tokens=F("tokens") + tokens,
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )
    )


def _backoff(attempts: int) -> float:
    """Exponential with full jitter: 10 s, 20 s, 40 s... capped at 5 minutes."""
    return random.uniform(0.5, 1.0) * min(300.0, 10.0 * 2 ** max(0, attempts - 1))  # noqa: S311


def batch_attempt_failed(*, batch: GenerationBatch, error: str, permanent: bool) -> None:
    """This process's attempt failed: back to pending with a backoff, or, when the error is
    permanent or the attempts are spent, fail the batch and its campaign with the error."""
    row = GenerationBatch.objects.filter(pk=batch.pk, claimed_by=leases.worker_id()).first()
    if row is None or row.status != BatchStatus.RUNNING:
        return  # our lease ran out and the batch moved on: the new holder decides
    limit = settings.ASSAY["GENERATION_MAX_ATTEMPTS"]
    if permanent or row.attempts >= limit:
        _fail(row, error, "" if permanent else _after(row.attempts))
        return
    GenerationBatch.objects.filter(pk=row.pk, status=BatchStatus.RUNNING).update(
        status=BatchStatus.PENDING,
        error=error[:4000],
        claimed_by="",
        lease_expires_at=None,
        not_before=timezone.now() + timedelta(seconds=_backoff(row.attempts)),
        updated_at=timezone.now(),
    )
    log.warning(
        "campaign %s batch %s: attempt %s failed, retrying: %s",
        row.campaign_id,
        row.index,
        row.attempts,
        error,
    )


def _after(attempts: int) -> str:
    return f" after {attempts} attempt{'s' if attempts != 1 else ''}"


def _fail(row: GenerationBatch, error: str, after: str, *, expired_by: datetime | None = None) -> bool:
    """Fail the batch and its campaign; with `expired_by`, only if its lease is still out
    (a concurrent sweeper, or a worker that renewed it just in time, wins)."""
    rows = GenerationBatch.objects.filter(pk=row.pk, status=BatchStatus.RUNNING)
    if expired_by is not None:
        rows = rows.filter(lease_expires_at__lt=expired_by)
    if not rows.update(
        status=BatchStatus.FAILED,
        error=error[:4000],
        lease_expires_at=None,
        finished_at=timezone.now(),
        updated_at=timezone.now(),
    ):
        return False
    campaign_fail(campaign_id=row.campaign_id, error=f"generation failed (batch {row.index}{after}): {error}")
    log.error("campaign %s batch %s failed%s: %s", row.campaign_id, row.index, after, error)
    return True


def batches_requeue_failed(*, campaign: Campaign) -> int:
    """A restarted campaign gives its failed batches a fresh set of attempts."""
    return campaign.batches.filter(status=BatchStatus.FAILED).update(
        status=BatchStatus.PENDING, attempts=0, error="", not_before=None, finished_at=None
    )


def batches_cancel(*, campaign: Campaign) -> int:
    """Batches not yet started never will be; running ones finish."""
    return campaign.batches.filter(status=BatchStatus.PENDING).update(
        status=BatchStatus.CANCELLED, not_before=None, updated_at=timezone.now()
    )


def _work_left(campaign: Campaign) -> int:
    """Batches that still need a turn: pending ones and those not yet allocated."""
    covered, _ = _covered(campaign)
    size = batch_size(stored_config(campaign.config))
    unallocated = -(-max(0, campaign.count - covered) // size)
    return campaign.batches.filter(status=BatchStatus.PENDING).count() + unallocated


def generation_kick(*, campaign: Campaign, messages: int | None = None) -> int:
    """Publish turns for a running campaign (after commit): enough to keep the fanout (or
    every live worker of its queue) busy, never more than the batches left. Returns how many."""
    queue = campaign.generation_queue
    wanted = messages or max(settings.ASSAY["GENERATION_FANOUT"], len(live_workers(queue)))
    n = min(wanted, _work_left(campaign))
    Campaign.objects.filter(pk=campaign.pk).update(nudged_at=timezone.now())
    for _ in range(n):
        enqueue_on_commit(TASK, campaign.pk, queue=queue)
    return n


def generation_pass_turn(*, campaign_id: int) -> None:
    """At the end of a turn: publish the next one when the campaign still has claimable work,
    or one delayed until the earliest retry when all that is left waits on a backoff."""
    campaign = Campaign.objects.filter(pk=campaign_id, status=CampaignStatus.RUNNING).first()
    if campaign is None:
        return
    queue = campaign.generation_queue
    covered, _ = _covered(campaign)
    if covered < campaign.count or campaign.batches.filter(_ready()).exists():
        enqueue_on_commit(TASK, campaign_id, queue=queue)
        return
    wake = campaign.batches.filter(status=BatchStatus.PENDING).aggregate(at=Min("not_before"))["at"]
    if wake is not None:
        delay = max(1.0, (wake - timezone.now()).total_seconds() + 1)
        enqueue_on_commit(TASK, campaign_id, queue=queue, countdown=delay)


def batches_sweep() -> dict[str, int]:
    """Hand on the batches of dead workers, and give campaigns whose messages were lost new
    turns.

    - A running batch whose lease ran out lost its worker: back to pending with a turn for
      it (cancelled if its campaign was cancelled meanwhile), or failed with its campaign
      once its attempts are spent (a batch that kills every worker that takes it must not
      loop forever).
    - A running campaign with work waiting while a worker of its queue has had room for
      STALE_SECONDS lost its turns (a broker restart, a killed worker on the filesystem
      queue): publish them again (_top_up)."""
    now = timezone.now()
    limit = settings.ASSAY["GENERATION_MAX_ATTEMPTS"]
    handed_on = failed = kicked = 0
    for row in GenerationBatch.objects.filter(status=BatchStatus.RUNNING, lease_expires_at__lt=now):
        lost = f"its worker ({row.claimed_by}) stopped while generating it"
        if row.attempts >= limit:
            failed += _fail(row, lost, _after(row.attempts), expired_by=now)
            continue
        moved = GenerationBatch.objects.filter(
            pk=row.pk, status=BatchStatus.RUNNING, lease_expires_at__lt=now
        ).update(
            status=BatchStatus.PENDING,
            error=f"{lost}; handed on",
            claimed_by="",
            lease_expires_at=None,
            updated_at=now,
        )
        if not moved:
            continue
        handed_on += 1
        log.warning("campaign %s batch %s: %s; handed on", row.campaign_id, row.index, lost)
        campaign = Campaign.objects.get(pk=row.campaign_id)
        if campaign.status == CampaignStatus.RUNNING:
            kicked += generation_kick(campaign=campaign, messages=1)
        elif campaign.status == CampaignStatus.CANCELLED:
            batches_cancel(campaign=campaign)
    stale = now - timedelta(seconds=settings.ASSAY["STALE_SECONDS"])
    quiet = Campaign.objects.filter(status=CampaignStatus.RUNNING).filter(
        Q(nudged_at__isnull=True) | Q(nudged_at__lt=stale)
    )
    for campaign in quiet:
        kicked += _top_up(campaign, stale)
    return {"batches_handed_on": handed_on, "batches_failed": failed, "turns_published": kicked}


def _top_up(campaign: Campaign, stale) -> int:
    """Turns for a campaign whose work waits while workers of its queue have had room for
    STALE_SECONDS: its messages were lost (a broker restart, a worker killed on the
    filesystem queue). One turn per such worker, at most one top-up per STALE_SECONDS."""
    idle = [
        w
        for w in live_workers(campaign.generation_queue)
        if w.free_since is not None and w.free_since < stale
    ]
    if not idle or not _work_left(campaign):
        return 0
    return generation_kick(campaign=campaign, messages=min(len(idle), settings.ASSAY["GENERATION_FANOUT"]))
