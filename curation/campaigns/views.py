from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from curation.campaigns.models import CandidateStatus
from curation.campaigns.selectors import campaign_counts, campaign_get_for_user, candidate_list
from curation.core.errors import NotFound


@login_required
def campaign_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        campaign = campaign_get_for_user(user=request.user, slug=slug)
    except NotFound as e:
        raise Http404(str(e)) from None
    status = request.GET.get("status") or None
    if status not in (None, *CandidateStatus.values):
        status = None
    page = Paginator(candidate_list(campaign=campaign, status=status), 25).get_page(request.GET.get("page"))
    counts = campaign_counts(campaign=campaign)
    return render(
        request,
        "campaigns/detail.html",
        {
            "campaign": campaign,
            "counts": counts,
            "page": page,
            "status": status,
            "statuses": [(value, label, counts[value]) for value, label in CandidateStatus.choices],
        },
    )
