"""Scoring that fails is retried a bounded number of times, then fails its campaign with the
error text; scoring that was lost (a killed worker, a broker that forgot its messages) is
queued again by the sweeper, and only then."""

from __future__ import annotations

import json
from datetime import timedelta

from django.utils import timezone

from curation.campaigns.imports import candidates_import
from curation.campaigns.models import Campaign, CampaignStatus, Candidate, CandidateStatus
from curation.campaigns.services import campaign_score
from curation.core.sweeper import sweep
from curation.scoring.services import candidates_score, scoring_sweep
from curation.scoring.tasks import score_candidates
from tests.conftest import DATA


def _json(*args):
    return json.loads(json.dumps(list(args)))


def test_a_scoring_task_that_raises_is_retried_then_fails_the_campaign_visibly(tea_campaign, settings):
    candidates_import(path=DATA / "tea_candidates.jsonl", campaign=tea_campaign)
    ids = list(tea_campaign.candidates.values_list("id", flat=True))
    # A stored config the critics cannot read (an edit under an older version, a bug): every
    # attempt raises inside the task, like any unexpected error.
    config = {**tea_campaign.config, "critics": {"length": {"min_words": "five"}}}
    Campaign.objects.filter(pk=tea_campaign.pk).update(config=config, status=CampaignStatus.RUNNING)
    settings.ASSAY = {**settings.ASSAY, "SCORING_MAX_RETRIES": 2}
    # Eager apply runs each retry at once (a worker would wait 5 s, then 10 s).
    assert score_candidates.apply(args=_json(ids)).get() == 0
    tea_campaign.refresh_from_db()
    assert tea_campaign.status == CampaignStatus.FAILED
    assert tea_campaign.error.startswith("scoring failed: ValidationError: ")
    assert tea_campaign.error.endswith("(after 2 retries)")
    # Nothing was triaged half-way: the candidates wait, visible as unscored, for a rerun.
    assert set(tea_campaign.candidates.values_list("status", flat=True)) == {CandidateStatus.GENERATED}


def test_the_sweeper_queues_lost_scoring_again_and_only_lost_scoring(
    tea_campaign, settings, django_capture_on_commit_callbacks
):
    candidates_import(path=DATA / "tea_candidates.jsonl", campaign=tea_campaign)
    assert scoring_sweep() == 0  # a draft's imports wait for score_campaign
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert campaign_score(campaign=tea_campaign) == 6
    assert len(queued) == 1  # ... whose message is then lost
    assert scoring_sweep() == 0  # queued just now: it may simply be waiting its turn
    long_ago = timezone.now() - timedelta(seconds=settings.ASSAY["STALE_SECONDS"] + 1)
    Candidate.objects.update(created_at=long_ago)
    Campaign.objects.update(scored_at=long_ago)
    with django_capture_on_commit_callbacks(execute=False) as requeued:
        assert sweep()["scoring"] == 6  # what beat runs
    assert len(requeued) == 1
    assert scoring_sweep() == 0  # stamped: not again until another quiet spell
    Campaign.objects.update(scored_at=long_ago)
    candidates_score(candidate_ids=list(tea_campaign.candidates.values_list("id", flat=True)))
    assert scoring_sweep() == 0  # nothing left to score
