"""The learned critic: trained on a campaign's expert decisions (a Celery task, never in a
request), stored as plain JSON, used to order the review queue and, once its cross-validated
calibration is good enough, to reject what experts would reject (reason `learned`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.db import transaction

from curation.campaigns.config import CampaignConfig, stored_config
from curation.campaigns.models import Campaign, Candidate, CandidateStatus
from curation.core.queue import enqueue_on_commit
from curation.scoring import indexes
from curation.scoring.models import CriticScore, LearnedCritic
from workers.critics import learned

TRAIN_TASK = "workers.train_learned_critic"
RETRAIN_EVERY = 10  # decisions between retrainings
TRAIN_THROTTLE_S = 60  # a training queued for a model version is not queued again before
CHUNK = 500
DECIDED = (CandidateStatus.APPROVED, CandidateStatus.REJECTED)


@dataclass(frozen=True)
class LearnedVerdict:
    p: float  # the probability an expert accepts it
    priority: float
    rejects: bool


def learned_maybe_queue(*, campaign_id: int, config: CampaignConfig | None = None) -> bool:
    """After an expert decision: queue a retraining when enough decisions exist and enough
    arrived since the last training. Returns whether one was queued.

    It runs on every decision, so it counts at most RETRAIN_EVERY (or MIN_TRAIN) rows on an
    index, never every decided candidate, and queues one training per model version and
    TRAIN_THROTTLE_S per process, not one per decision while a training runs."""
    config = config or stored_config(Campaign.objects.get(pk=campaign_id).config)
    if not config.learned:
        return False
    last = LearnedCritic.objects.filter(campaign_id=campaign_id).values("version", "created_at").first()
    decided = Candidate.objects.filter(campaign_id=campaign_id, status__in=DECIDED)
    need = learned.MIN_TRAIN
    if last:
        decided, need = decided.filter(decided_at__gt=last["created_at"]), RETRAIN_EVERY
    if decided[:need].count() < need:
        return False
    key = f"assay:learned-queued:{campaign_id}:{last['version'] if last else 0}"
    if not cache.add(key, 1, TRAIN_THROTTLE_S):
        return False
    enqueue_on_commit(TRAIN_TASK, campaign_id)
    return True


def learned_train(*, campaign_id: int) -> LearnedCritic | None:
    """Train on every expert decision of the campaign, store the model, and re-order the
    review queue with it. None when there is not enough data yet (nothing stored)."""
    decided = list(Candidate.objects.filter(campaign_id=campaign_id, status__in=DECIDED).order_by("pk"))
    names, features = _features(decided)
    labels = [int(c.status == CandidateStatus.APPROVED) for c in decided]
    try:
        vectors = indexes.candidates_embed(decided)
        model = learned.train(
            np.stack([vectors[c.pk] for c in decided]) if decided else np.zeros((0, 384), np.float32),
            features,
            labels,
            feature_names=names,
        )
    except learned.NotEnoughData:
        return None
    with transaction.atomic():
        last = LearnedCritic.objects.select_for_update().filter(campaign_id=campaign_id).first()
        row = LearnedCritic.objects.create(
            campaign_id=campaign_id,
            version=(last.version + 1) if last else 1,
            trained_on=model.trained_on,
            quality=_quality(model),
            params=model.to_json(),
        )
    _reorder(campaign_id, row)
    return row


def learned_current(*, campaign_id: int) -> tuple[LearnedCritic, learned.LearnedModel] | None:
    row = LearnedCritic.objects.filter(campaign_id=campaign_id).first()
    return (row, learned.LearnedModel.from_json(row.params)) if row else None


def learned_verdicts(
    *, campaign_id: int, candidates: Sequence[Candidate], config: CampaignConfig
) -> dict[int, LearnedVerdict]:
    """The newest model's verdict on candidates that passed every other critic, stored as the
    `learned` critic's score. Empty without a trained model (or with the critic turned off)."""
    settings = config.learned
    current = learned_current(campaign_id=campaign_id) if settings and candidates else None
    if current is None:
        return {}
    row, model = current
    _, features = _features(candidates, names=model.feature_names)
    vectors = indexes.candidates_embed(candidates)
    p = model.predict(np.stack([vectors[c.pk] for c in candidates]), features)
    gate = model.quality.good_enough
    out, scores = {}, []
    for c, prob in zip(candidates, p.tolist(), strict=True):
        rejects = gate and prob < settings.floor
        priority = float(learned.uncertainty(np.array([prob]))[0]) if settings.order == "uncertain" else prob
        out[c.pk] = LearnedVerdict(prob, priority, rejects)
        why = f"accept probability {prob:.2f} (model v{row.version}, {row.trained_on} decisions)"
        if not gate:
            why += f"; floor off: {model.quality.why}"
        scores.append(
            CriticScore(
                candidate_id=c.pk,
                critic="learned",
                version=f"v{row.version}",
                score=round(prob, 6),
                passed=not rejects,
                label="learned" if rejects else "",
                rationale=why,
            )
        )
    CriticScore.objects.bulk_create(scores, ignore_conflicts=True)
    return out


def _reorder(campaign_id: int, row: LearnedCritic) -> None:
    """The queue waiting for experts, re-prioritized by the new model (in chunks)."""
    config = stored_config(Campaign.objects.get(pk=campaign_id).config)
    queue = Candidate.objects.filter(campaign_id=campaign_id, status=CandidateStatus.IN_REVIEW).order_by("pk")
    last = 0
    while True:
        chunk = list(queue.filter(pk__gt=last)[:CHUNK])
        if not chunk:
            return
        for pk, v in learned_verdicts(campaign_id=campaign_id, candidates=chunk, config=config).items():
            # Only the order changes: a candidate already in review stays there for an expert.
            Candidate.objects.filter(pk=pk, status=CandidateStatus.IN_REVIEW).update(
                priority=round(v.priority, 6)
            )
        last = chunk[-1].pk


def _features(
    candidates: Sequence[Candidate], names: Sequence[str] | None = None
) -> tuple[tuple[str, ...], list[dict[str, float | None]]]:
    """Each candidate's critic scores by critic name (the newest version of each), without
    the learned critic's own."""
    by: dict[int, dict[str, float | None]] = defaultdict(dict)
    rows = (
        CriticScore.objects.filter(candidate__in=candidates)
        .exclude(critic="learned")
        .order_by("created_at", "pk")
        .values_list("candidate_id", "critic", "score")
    )
    for cid, critic, score in rows:
        by[cid][critic] = score
    if names is None:
        names = sorted({k for f in by.values() for k in f})
    return tuple(names), [{n: by[c.pk].get(n) for n in names} for c in candidates]


def _quality(model: learned.LearnedModel) -> dict:
    q = model.quality
    return {
        "n": q.n,
        "auc": q.auc,
        "brier": q.brier,
        "ece": q.ece,
        "good_enough": q.good_enough,
        "why": q.why,
    }
