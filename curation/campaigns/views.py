from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from curation.campaigns.models import Campaign, CandidateStatus
from curation.campaigns.selectors import campaign_counts, campaign_get_for_user, candidate_list
from curation.core.errors import NotFound
from curation.review.models import Decision, Review
from workers.metrics.lexical import distinct_n

# Diversity on the page is a bounded sample, never the whole campaign (DESIGN "Scale").
DIVERSITY_SAMPLE = 500
DIVERSITY_MIN = 5


def _diversity(campaign: Campaign) -> dict[str, float | int] | None:
    """Distinct bigrams of the campaign's surviving candidates beside the real seed data, on
    samples of the same size (distinct-n falls as a corpus grows, so sizes must match)."""
    alive = (CandidateStatus.IN_REVIEW, CandidateStatus.APPROVED)
    rows = campaign.candidates.filter(status__in=alive).order_by("-id")
    synthetic = [
        edited if edited is not None else text
        for text, edited in rows.values_list("response", "edited_response")[:DIVERSITY_SAMPLE]
    ]
    real = list(campaign.source.examples.order_by("id").values_list("response", flat=True)[: len(synthetic)])
    n = min(len(synthetic), len(real))
    if n < DIVERSITY_MIN:
        return None
    return {"n": n, "synthetic": distinct_n(synthetic[:n], 2), "real": distinct_n(real[:n], 2)}


@login_required
def campaign_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        campaign = campaign_get_for_user(user=request.user, slug=slug)
    except NotFound as e:
        raise Http404(str(e)) from None
    status = request.GET.get("status") or None
    if status not in (None, *CandidateStatus.values):
        status = None
    # The experts' decisions beside the critics' verdicts: one more query per page, not per row.
    decisions = Review.objects.exclude(decision=Decision.SKIP).select_related("reviewer").order_by("id")
    candidates = candidate_list(campaign=campaign, status=status).prefetch_related(
        Prefetch("reviews", queryset=decisions, to_attr="decisions")
    )
    page = Paginator(candidates, 25).get_page(request.GET.get("page"))
    counts = campaign_counts(campaign=campaign)
    mixture = (campaign.config or {}).get("mixture") or {}
    return render(
        request,
        "campaigns/detail.html",
        {
            "campaign": campaign,
            "counts": counts,
            "page": page,
            "status": status,
            "statuses": [(value, label, counts[value]) for value, label in CandidateStatus.choices],
            "max_synthetic_pct": round(100 * float(mixture.get("max_synthetic", 0.3))),
            "max_depth": mixture.get("max_depth", 1),
            "balance_by": mixture.get("balance_by"),
            "diversity": _diversity(campaign),
        },
    )
