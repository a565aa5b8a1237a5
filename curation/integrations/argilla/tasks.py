"""Thin Celery tasks: JSON arguments (ids), one service call each."""

from __future__ import annotations

from celery import shared_task

from curation.integrations.argilla.client import ArgillaError
from curation.integrations.argilla.services import argilla_sync_id

MAX_RETRIES = 4


@shared_task(name="workers.argilla_sync", bind=True)
def argilla_sync(self, campaign_id: int, **kwargs) -> dict | None:
    """Sync one campaign with its Argilla dataset (`cpu` queue). Idempotent, and a second
    sync at the same time returns at once. Argilla unreachable or answering 408, 429 or 5xx
    is retried with backoff (10 s, 20 s, 40 s, 80 s); any failure stays on the campaign
    page (ArgillaSync.error) until a sync succeeds, and the sweeper queues the next one."""
    try:
        return argilla_sync_id(campaign_id=campaign_id)
    except ArgillaError as e:
        if e.transient and self.request.retries < MAX_RETRIES:
            raise self.retry(exc=e, countdown=10 * 2**self.request.retries, max_retries=MAX_RETRIES) from e
        return None
