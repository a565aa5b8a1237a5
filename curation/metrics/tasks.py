"""Thin Celery tasks: JSON arguments (ids), one service call each."""

from __future__ import annotations

from celery import shared_task

from curation.metrics.services import diversity_update


@shared_task(name="workers.update_diversity")
def update_diversity(campaign_id: int, **kwargs) -> int:
    """Count a campaign's newly scored candidates into its diversity figures. Idempotent: each
    candidate is counted once, in the transaction that marks it; a run lost with its worker
    is redone by the next scoring batch's trigger or by the sweeper."""
    return diversity_update(campaign_id=campaign_id)
