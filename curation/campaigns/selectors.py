from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet

from curation.accounts.models import Role, User
from curation.campaigns.models import Campaign, Candidate, CandidateStatus
from curation.core.errors import NotFound
from curation.review.models import Review
from curation.review.selectors import decisions_for
from curation.scoring.models import CriticScore


def campaign_get(*, slug: str) -> Campaign:
    try:
        return Campaign.objects.select_related("source").get(slug=slug)
    except Campaign.DoesNotExist:
        raise NotFound(f"no campaign {slug!r}") from None


def campaign_get_for_user(*, user: User, slug: str) -> Campaign:
    """The campaign as this user may see it: an expert outside a members-only campaign
    gets the same 404 as for one that does not exist."""
    if not user.is_authenticated:
        raise NotFound(f"no campaign {slug!r}")
    campaign = campaign_get(slug=slug)
    if not campaign.admits(user):
        raise NotFound(f"no campaign {slug!r}")
    return campaign


def campaign_list(*, user: User | None = None) -> QuerySet[Campaign]:
    """Every campaign, or those this user may see (an expert: open ones and their own)."""
    qs = Campaign.objects.select_related("source").order_by("slug")
    if user is not None and user.role == Role.EXPERT:
        qs = qs.filter(Q(members_only=False) | Q(memberships__user=user)).distinct()
    return qs


def campaign_counts(*, campaign: Campaign) -> dict[str, int]:
    """Candidates per status, every status present (0 when none)."""
    counts = dict.fromkeys(CandidateStatus.values, 0)
    for row in campaign.candidates.order_by().values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    return counts


def campaign_counts_many(*, campaigns: list[Campaign]) -> dict[int, dict[str, int]]:
    out = {c.pk: dict.fromkeys(CandidateStatus.values, 0) for c in campaigns}
    rows = Candidate.objects.filter(campaign__in=campaigns).order_by().values("campaign_id", "status")
    for row in rows.annotate(n=Count("id")):
        out[row["campaign_id"]][row["status"]] = row["n"]
    return out


def candidate_list(*, campaign: Campaign, status: str | None = None) -> QuerySet[Candidate]:
    qs = campaign.candidates.order_by("id").prefetch_related(
        Prefetch("scores", queryset=CriticScore.objects.order_by("critic"))
    )
    return qs.filter(status=status) if status else qs


def critic_scores(candidate: Candidate) -> dict[str, float | None]:
    """{critic: score} from prefetched scores (no query when prefetched)."""
    return {s.critic: s.score for s in candidate.scores.all()}


PASSED_ALL = "passed"  # the critic filter's value for "every critic passed it"


@dataclass(frozen=True)
class BrowseFilters:
    """What the candidate browser narrows the campaign to; empty fields filter nothing."""

    q: str = ""  # words in the prompt or the response (a scan: bounded by the page size)
    status: str = ""
    critic: str = ""  # PASSED_ALL, or the name of a critic that failed it
    reason: str = ""  # a code in candidate.reasons (a critic's label or an expert's reason)
    reviewer: str = ""  # username of an expert who decided or skipped it
    depth: int | None = None

    @property
    def active(self) -> bool:
        return bool(self.q or self.status or self.critic or self.reason or self.reviewer or self.depth)


@dataclass
class BrowsePage:
    rows: list[Candidate]
    decisions: dict[int, dict]  # decisions_for(rows)
    after: int | None  # the id the next page starts after; None on the last page
    before: int | None  # the id the previous page ends before; None on the first page
    filters: BrowseFilters = field(default_factory=BrowseFilters)


def _browse_query(campaign: Campaign, filters: BrowseFilters) -> QuerySet[Candidate]:
    """Every filter is a WHERE on the campaign's rows or an EXISTS on an indexed foreign
    key, so a page reads at most a page's worth of matches in id order."""
    qs = Candidate.objects.filter(campaign=campaign)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.depth is not None:
        qs = qs.filter(generation_depth=filters.depth)
    if filters.reason:
        if connection.vendor == "postgresql":
            qs = qs.filter(reasons__contains=[filters.reason])
        else:  # SQLite has no JSON containment: the quoted code in the JSON text
            qs = qs.filter(reasons__icontains=json.dumps(filters.reason))
    if filters.critic == PASSED_ALL:
        qs = qs.filter(~Exists(CriticScore.objects.filter(candidate=OuterRef("pk"), passed=False)))
    elif filters.critic:
        failed = CriticScore.objects.filter(candidate=OuterRef("pk"), critic=filters.critic, passed=False)
        qs = qs.filter(Exists(failed))
    if filters.reviewer:
        reviewer = User.objects.filter(username=filters.reviewer).values_list("pk", flat=True).first()
        if reviewer is None:
            return qs.none()
        qs = qs.filter(Exists(Review.objects.filter(candidate=OuterRef("pk"), reviewer_id=reviewer)))
    if filters.q:
        qs = qs.filter(Q(prompt__icontains=filters.q) | Q(response__icontains=filters.q))
    return qs


def candidate_browse(
    *,
    campaign: Campaign,
    filters: BrowseFilters,
    after: int | None = None,
    before: int | None = None,
    size: int = 25,
) -> BrowsePage:
    """One page of the campaign's candidates in id order, read on by keyset (`after` the
    last id shown, or `before` the first): no COUNT over the filtered set and no OFFSET,
    so the hundredth page costs what the first does. A fixed number of queries: the page,
    whether a page lies on the other side, its critic scores and its decisions."""
    qs = _browse_query(campaign, filters)
    scores = Prefetch("scores", queryset=CriticScore.objects.order_by("critic"))
    if before is not None:
        rows = list(qs.filter(pk__lt=before).order_by("-pk").prefetch_related(scores)[: size + 1])
        more_before = len(rows) > size
        rows = rows[:size][::-1]
        more_after = qs.filter(pk__gte=before).exists()
    else:
        page = qs.filter(pk__gt=after) if after is not None else qs
        rows = list(page.order_by("pk").prefetch_related(scores)[: size + 1])
        more_after = len(rows) > size
        rows = rows[:size]
        more_before = after is not None and qs.filter(pk__lte=after).exists()
    return BrowsePage(
        rows=rows,
        decisions=decisions_for(rows),
        after=rows[-1].pk if rows and more_after else None,
        before=rows[0].pk if rows and more_before else None,
        filters=filters,
    )
