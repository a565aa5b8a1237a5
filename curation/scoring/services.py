"""Scoring and triage: run the campaign's critic panel, store one CriticScore per
(candidate, critic, version), then move each candidate to `auto_rejected` (with its
reasons) or `in_review` (with a priority). Nothing is auto-approved."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Q
from django.utils import timezone

from curation.campaigns.config import CampaignConfig, stored_config
from curation.campaigns.models import Campaign, CampaignStatus, Candidate, CandidateStatus
from curation.campaigns.status import UNSCORED, campaign_fail, campaign_settle
from curation.core.queue import enqueue_on_commit
from curation.scoring.models import CriticScore
from curation.sources.models import Example, Split
from workers.critics import Critic, Item, Verdict, build_panel
from workers.critics.text import text_key

SCORE_TASK = "workers.score_candidates"
SWEEP_TASKS = 50  # scoring tasks one sweep queues per campaign at most


class DatabaseCorpus:
    """Where a campaign's candidates' text keys were seen before (workers/critics/base.Corpus).
    Without a campaign (a preview), earlier items of the same call count as its candidates."""

    def __init__(self, campaign_id: int | None) -> None:
        self.campaign_id = campaign_id
        self._cache: dict[tuple[int, ...], dict[int, set[str]]] = {}

    def sightings(self, items: Sequence[Item]) -> dict[int, set[str]]:
        key = tuple(i.id for i in items)
        if key not in self._cache:  # several critics ask about the same batch
            self._cache[key] = self._lookup(items)
        return self._cache[key]

    def _lookup(self, items: Sequence[Item]) -> dict[int, set[str]]:
        keys = {i.text_key for i in items}
        where: dict[str, set[str]] = defaultdict(set)
        for k, split in (
            Example.objects.filter(text_key__in=keys).values_list("text_key", "source__split").distinct()
        ):
            where[k].add("heldout" if split == Split.HELDOUT else "real")
        approved = Candidate.objects.filter(text_key__in=keys, status=CandidateStatus.APPROVED)
        for k in approved.values_list("text_key", flat=True).distinct():
            where[k].add("approved")
        if self.campaign_id is None:
            first: dict[str, int] = {}
            for item in sorted(items, key=lambda i: i.id):
                first.setdefault(item.text_key, item.id)
        else:
            first = dict(
                Candidate.objects.filter(campaign_id=self.campaign_id, text_key__in=keys)
                .values("text_key")
                .annotate(first=Min("id"))
                .values_list("text_key", "first")
            )
        out: dict[int, set[str]] = {}
        for item in items:
            seen = set(where.get(item.text_key, ()))
            if first.get(item.text_key, item.id) < item.id:  # the first copy stays; later ones are flagged
                seen.add("candidate")
            out[item.id] = seen
        return out


def candidates_score(*, candidate_ids: list[int]) -> int:
    """Score and triage the given candidates that are still unscored; returns how many
    were triaged. Safe to rerun: existing scores are kept, decided candidates skipped."""
    by_campaign: dict[int, list[Candidate]] = defaultdict(list)
    for c in Candidate.objects.filter(pk__in=candidate_ids, status__in=UNSCORED).select_related("campaign"):
        by_campaign[c.campaign_id].append(c)
    triaged = 0
    for campaign_id, candidates in by_campaign.items():
        config = stored_config(candidates[0].campaign.config)
        panel = build_panel(config.critics)
        _ensure_scores(campaign_id, candidates, panel)
        triaged += _triage(candidates, panel)
        Campaign.objects.filter(pk=campaign_id).update(scored_at=timezone.now())
        campaign_settle(campaign_id=campaign_id)
    return triaged


@dataclass(frozen=True)
class Judged:
    reasons: list[str]  # empty: it would go to review
    verdicts: dict[str, Verdict]  # critic name -> verdict


def samples_judge(*, config: CampaignConfig, samples: Sequence[tuple[str, str]]) -> list[Judged]:
    """The campaign's critic panel on (prompt, response) pairs that are not stored (a preview):
    the same critics and triage rule as scoring, nothing written."""
    panel = build_panel(config.critics)
    items = [Item(i + 1, p, r, text_key(r)) for i, (p, r) in enumerate(samples)]
    corpus = DatabaseCorpus(None)
    by_critic = {critic.name: critic.judge(items, corpus) for critic in panel}
    out = []
    for i in range(len(items)):
        verdicts = {name: v[i] for name, v in by_critic.items()}
        failed = [v for v in verdicts.values() if not v.passed]
        reasons = sorted({r for v in failed for r in (v.label, *v.extra_labels) if r})
        out.append(Judged(reasons, verdicts))
    return out


def scoring_queue(*, campaign: Campaign, limit: int | None = None) -> int:
    """Queue the critics for the campaign's unscored candidates (imported ones included),
    in tasks of SCORING_BATCH_SIZE; at most `limit` tasks. Returns how many candidates."""
    size = settings.ASSAY["SCORING_BATCH_SIZE"]
    ids = campaign.candidates.filter(status__in=UNSCORED).order_by("id").values_list("id", flat=True)
    if limit is not None:
        ids = ids[: limit * size]
    ids = list(ids)
    if ids:
        Campaign.objects.filter(pk=campaign.pk).update(scored_at=timezone.now())
    for i in range(0, len(ids), size):
        enqueue_on_commit(SCORE_TASK, ids[i : i + size])
    return len(ids)


def scoring_fail(*, candidate_ids: list[int], error: str) -> None:
    """A scoring task out of retries: its campaigns fail with the error; the candidates stay
    unscored (visible in the counts) until the campaign is run or scored again."""
    campaigns = Candidate.objects.filter(pk__in=candidate_ids).values_list("campaign_id", flat=True)
    for campaign_id in set(campaigns):
        campaign_fail(campaign_id=campaign_id, error=f"scoring failed: {error}")


def scoring_sweep() -> int:
    """Queue scoring again where it was lost: a campaign (not failed) with candidates unscored
    for STALE_SECONDS and no scoring progress for as long (a worker killed mid-task, a broker
    that lost its messages). Scoring is idempotent, so a slow task scored twice costs time,
    never a duplicate. Bounded: at most a few tasks' worth per campaign and sweep."""
    stale = timezone.now() - timedelta(seconds=settings.ASSAY["STALE_SECONDS"])
    quiet = (
        Campaign.objects.exclude(status=CampaignStatus.FAILED)
        .filter(Q(scored_at__isnull=True) | Q(scored_at__lt=stale))
        # A draft's imported candidates wait for score_campaign, which stamps scored_at.
        .exclude(status=CampaignStatus.DRAFT, scored_at__isnull=True)
    )
    n = 0
    for campaign in quiet:
        # Per campaign, so the (campaign, status) index answers; campaigns are few.
        if not campaign.candidates.filter(status__in=UNSCORED, created_at__lt=stale).exists():
            continue
        with transaction.atomic():
            # The stamp first, so concurrent sweepers do not both queue it.
            if Campaign.objects.filter(pk=campaign.pk, scored_at=campaign.scored_at).update(
                scored_at=timezone.now()
            ):
                n += scoring_queue(campaign=campaign, limit=SWEEP_TASKS)
    return n


def _ensure_scores(campaign_id: int, candidates: list[Candidate], panel: list[Critic]) -> None:
    ids = [c.pk for c in candidates]
    done = set(
        CriticScore.objects.filter(candidate_id__in=ids).values_list("candidate_id", "critic", "version")
    )
    corpus = DatabaseCorpus(campaign_id)
    for critic in panel:
        todo = [c for c in candidates if (c.pk, critic.name, critic.version) not in done]
        if not todo:
            continue
        items = [Item(c.pk, c.prompt, c.response, c.text_key) for c in todo]
        verdicts = critic.judge(items, corpus)
        CriticScore.objects.bulk_create(
            [_score_row(c.pk, critic, v) for c, v in zip(todo, verdicts, strict=True)], ignore_conflicts=True
        )
    # scored: every critic has spoken; triage follows at once (a crash here resumes from this state).
    Candidate.objects.filter(pk__in=ids, status=CandidateStatus.GENERATED).update(
        status=CandidateStatus.SCORED
    )


def _score_row(candidate_id: int, critic: Critic, v: Verdict) -> CriticScore:
    label = ",".join((v.label, *v.extra_labels)) if not v.passed else ""
    return CriticScore(
        candidate_id=candidate_id,
        critic=critic.name,
        version=critic.version,
        score=round(float(v.score), 6),
        passed=v.passed,
        label=label,
        rationale=v.rationale,
    )


def _triage(candidates: list[Candidate], panel: list[Critic]) -> int:
    current = {(c.name, c.version) for c in panel}
    scores: dict[int, list[CriticScore]] = defaultdict(list)
    for s in CriticScore.objects.filter(candidate_id__in=[c.pk for c in candidates]):
        if (s.critic, s.version) in current:
            scores[s.candidate_id].append(s)
    n = 0
    for c in candidates:
        mine = scores[c.pk]
        reasons = sorted({r for s in mine if not s.passed for r in s.label.split(",") if r})
        status = CandidateStatus.AUTO_REJECTED if reasons else CandidateStatus.IN_REVIEW
        # Review the likeliest-good first: approved data reaches training sooner.
        priority = sum(s.score for s in mine) / len(mine) if mine else 0.0
        n += Candidate.objects.filter(pk=c.pk, status=CandidateStatus.SCORED).update(
            status=status, reasons=reasons, priority=round(priority, 6)
        )
    return n
