"""Thin Celery tasks: JSON arguments (ids), one service call each."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from curation.core.errors import describe
from curation.scoring.learning import learned_train
from curation.scoring.services import candidates_judge, candidates_score, scoring_fail


def _retry_or_fail(task, candidate_ids: list[int], e: Exception, stage: str) -> int:
    retries = settings.ASSAY["SCORING_MAX_RETRIES"]
    if task.request.retries >= retries:
        scoring_fail(candidate_ids=candidate_ids, error=f"{stage}{describe(e)} (after {retries} retries)")
        return 0
    raise task.retry(exc=e, countdown=5 * 2**task.request.retries, max_retries=retries) from e


@shared_task(name="workers.score_candidates", bind=True)
def score_candidates(self, candidate_ids: list[int], **kwargs) -> int:
    """Stages 1-2 and triage. Safe to rerun: scores are unique per critic version and
    triage moves only candidates still unscored. An error (a bug, a critic's model
    failing) is retried with exponential backoff SCORING_MAX_RETRIES times, then fails
    the campaign with the error text; a task lost with its worker is queued again by
    the sweeper."""
    try:
        return candidates_score(candidate_ids=candidate_ids)
    except Exception as e:
        return _retry_or_fail(self, candidate_ids, e, "")


@shared_task(name="workers.judge_candidates", bind=True)
def judge_candidates(self, candidate_ids: list[int], **kwargs) -> int:
    """Stage 3, the LLM judge, on the judge model's queue; retried and failed like scoring."""
    try:
        return candidates_judge(candidate_ids=candidate_ids)
    except Exception as e:
        return _retry_or_fail(self, candidate_ids, e, "judge: ")


@shared_task(name="workers.train_learned_critic")
def train_learned_critic(campaign_id: int, **kwargs) -> int | None:
    """Retrain the campaign's learned critic on every expert decision so far. Idempotent in
    effect: a rerun trains the same data into a new version; a lost run is redone by the
    next decisions' trigger."""
    row = learned_train(campaign_id=campaign_id)
    return row.version if row else None
