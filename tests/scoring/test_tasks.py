"""The Celery tasks as a worker calls them: JSON arguments, safe to run twice."""

from __future__ import annotations

import json

from django.utils import timezone

from curation.campaigns.models import CandidateStatus
from curation.scoring.models import CriticScore
from curation.scoring.tasks import score_candidates


def _json(*args):
    return json.loads(json.dumps(list(args)))


def test_scoring_twice_stores_one_score_per_critic_and_keeps_the_triage(tea_campaign):
    from curation.campaigns.imports import candidates_import
    from tests.conftest import DATA

    candidates_import(path=DATA / "tea_candidates.jsonl", campaign=tea_campaign)
    ids = list(tea_campaign.candidates.values_list("id", flat=True))
    assert score_candidates.apply(args=_json(ids)).get() == 6
    first = {(s.candidate_id, s.critic): (s.score, s.pk) for s in CriticScore.objects.all()}
    triage = dict(tea_campaign.candidates.values_list("id", "status"))
    assert score_candidates.apply(args=_json(ids)).get() == 0  # a redelivered task changes nothing
    again = {(s.candidate_id, s.critic): (s.score, s.pk) for s in CriticScore.objects.all()}
    # 6 cheap critics on all 6; 3 index critics more on the 4 that survive the cheap ones.
    assert again == first and len(first) == 6 * 6 + 4 * 3
    assert dict(tea_campaign.candidates.values_list("id", "status")) == triage
    assert set(triage.values()) == {CandidateStatus.IN_REVIEW, CandidateStatus.AUTO_REJECTED}


def test_a_decided_candidate_is_never_scored_back_into_review(tea_in_review):
    c = tea_in_review.candidates.filter(status=CandidateStatus.IN_REVIEW).first()
    tea_in_review.candidates.filter(pk=c.pk).update(
        status=CandidateStatus.APPROVED, decided_at=timezone.now()
    )
    assert score_candidates.apply(args=_json([c.pk])).get() == 0
    c.refresh_from_db()
    assert c.status == CandidateStatus.APPROVED
