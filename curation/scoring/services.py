"""Scoring and triage: run the campaign's critic panel, store one CriticScore per
(candidate, critic, version), then move each candidate to `auto_rejected` (with its
reasons) or `in_review` (with a priority). Nothing is auto-approved."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from django.db.models import Min

from curation.campaigns.config import CampaignConfig
from curation.campaigns.models import Candidate, CandidateStatus
from curation.campaigns.services import UNSCORED, campaign_settle
from curation.scoring.models import CriticScore
from curation.sources.models import Example, Split
from workers.critics import Critic, Item, Verdict, build_panel


class DatabaseCorpus:
    """Where a campaign's candidates' text keys were seen before (workers/critics/base.Corpus)."""

    def __init__(self, campaign_id: int) -> None:
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
        config = CampaignConfig.model_validate(candidates[0].campaign.config)
        panel = build_panel(config.critics)
        _ensure_scores(campaign_id, candidates, panel)
        triaged += _triage(candidates, panel)
        campaign_settle(campaign_id=campaign_id)
    return triaged


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
