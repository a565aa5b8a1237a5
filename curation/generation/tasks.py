"""Thin Celery tasks: JSON arguments (ids), one service call each."""

from __future__ import annotations

from celery import shared_task

from curation.generation.services import generation_turn


@shared_task(name="workers.generate")
def generate(campaign_id: int, **kwargs) -> int:
    """A turn of generation for a campaign: claim its batches from the database, generate
    them, pass the turn on. Safe to rerun, duplicate or lose: the batch rows are the
    queue's memory (claims are conditional updates under a lease, slots are unique), and
    the sweeper replaces lost turns. Failures never escape: a failed attempt goes back to
    its batch with a backoff, bounded, then fails the batch and campaign visibly."""
    return generation_turn(campaign_id=campaign_id)
