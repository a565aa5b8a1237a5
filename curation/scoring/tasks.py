"""Thin Celery tasks: JSON arguments (ids), one service call each."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from curation.core.errors import describe
from curation.scoring.services import candidates_score, scoring_fail


@shared_task(name="workers.score_candidates", bind=True)
def score_candidates(self, candidate_ids: list[int], **kwargs) -> int:
    """Run the critics and triage. Safe to rerun: scores are unique per critic version
    and triage moves only candidates still unscored. An error (a bug, a critic's model
    failing) is retried with exponential backoff SCORING_MAX_RETRIES times, then fails
    the campaign with the error text; a task lost with its worker is queued again by
    the sweeper."""
    try:
        return candidates_score(candidate_ids=candidate_ids)
    except Exception as e:
        retries = settings.ASSAY["SCORING_MAX_RETRIES"]
        if self.request.retries >= retries:
            scoring_fail(candidate_ids=candidate_ids, error=f"{describe(e)} (after {retries} retries)")
            return 0
        raise self.retry(exc=e, countdown=5 * 2**self.request.retries, max_retries=retries) from e
