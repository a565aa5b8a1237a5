from __future__ import annotations

from django.db.models import Count, Prefetch, Q, QuerySet

from curation.accounts.models import Role, User
from curation.campaigns.models import Campaign, Candidate, CandidateStatus
from curation.core.errors import NotFound
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
