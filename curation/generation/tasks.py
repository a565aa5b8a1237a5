"""Thin Celery tasks: JSON arguments (ids), one service call each."""

from __future__ import annotations

from celery import shared_task

from curation.generation.services import RetryableGenerationError, batch_fail, batch_generate


@shared_task(name="workers.generate_batch", bind=True, max_retries=3)
def generate_batch(self, batch_id: int, **kwargs) -> int:
    """Generate one batch. Safe to rerun: only missing slots are generated. Transient
    engine errors retry with exponential backoff (3 times), then fail the batch."""
    try:
        return batch_generate(batch_id=batch_id)
    except RetryableGenerationError as e:
        if self.request.retries >= self.max_retries:
            batch_fail(batch_id=batch_id, error=f"{e} (after {self.max_retries} retries)")
            return 0
        raise self.retry(exc=e, countdown=10 * 2**self.request.retries) from e
