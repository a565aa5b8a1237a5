"""Reading what the diversity task stored: no figure is computed here."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from curation.campaigns.models import Campaign, Candidate
from curation.campaigns.status import UNSCORED
from curation.metrics.models import ALL_DEPTHS, DiversityInclusion, DiversitySnapshot, DiversityState

MAX_POINTS = 200  # snapshots drawn at most; a long campaign is thinned evenly


def campaign_diversity(*, campaign: Campaign) -> dict[str, Any] | None:
    """The stored figures, or None before the first candidates were counted."""
    state = DiversityState.objects.filter(campaign=campaign, depth=ALL_DEPTHS).only("metrics").first()
    return state.metrics if state and state.metrics else None


def diversity_alarms_many(*, campaigns: list[Campaign]) -> dict[int, list[str]]:
    """The metrics each campaign's diversity alarm is on (empty: none), in one query."""
    rows = DiversityState.objects.filter(campaign__in=campaigns, depth=ALL_DEPTHS).values_list(
        "campaign_id", "metrics__alarms"
    )
    return {cid: sorted({a["metric"] for a in alarms or []}) for cid, alarms in rows}


def diversity_snapshots(*, campaign: Campaign) -> list[dict[str, Any]]:
    rows = list(DiversitySnapshot.objects.filter(campaign=campaign).values("n", "metrics", "created_at"))
    if len(rows) > MAX_POINTS:
        step = len(rows) / MAX_POINTS
        rows = [rows[int(i * step)] for i in range(MAX_POINTS - 1)] + [rows[-1]]
    return rows


def diversity_pending(*, campaign: Campaign) -> int:
    """Scored candidates not yet counted: the panel says the figures are catching up. Two
    index counts, not an anti-join over every candidate on each poll."""
    triaged = Candidate.objects.filter(campaign=campaign).exclude(status__in=UNSCORED).count()
    return max(0, triaged - DiversityInclusion.objects.filter(campaign=campaign).count())


def pending(campaign_id: int) -> QuerySet[Candidate]:
    """Candidates the critics are done with and the sums do not hold yet."""
    counted = DiversityInclusion.objects.filter(candidate=OuterRef("pk"))
    return (
        Candidate.objects.filter(campaign_id=campaign_id)
        .exclude(status__in=UNSCORED)
        .filter(~Exists(counted))
        .order_by("pk")
    )
