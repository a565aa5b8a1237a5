"""Thin Celery tasks: JSON arguments (ids), one service call each."""

from __future__ import annotations

from celery import shared_task

from curation.scoring.services import candidates_score


@shared_task(name="workers.score_candidates")
def score_candidates(candidate_ids: list[int], **kwargs) -> int:
    """Run the critics and triage. Safe to rerun: scores are unique per critic version
    and triage moves only candidates still unscored."""
    return candidates_score(candidate_ids=candidate_ids)
