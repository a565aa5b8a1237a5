from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from curation.campaigns.config import stored_config
from curation.campaigns.models import CampaignStatus, CandidateStatus
from curation.campaigns.selectors import campaign_counts, campaign_get_for_user
from curation.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from curation.generation.selectors import campaign_progress
from curation.review.assignments import candidate_lease_next
from curation.review.forms import ReviewForm
from curation.review.services import candidate_review
from curation.scoring.selectors import candidate_critics


def _campaign(request: HttpRequest, slug: str):
    if not request.user.can_review():
        raise PermissionDenied("Only experts and admins review.")
    try:
        return campaign_get_for_user(user=request.user, slug=slug)
    except NotFound as e:
        raise Http404(str(e)) from None


def _coming(campaign, counts: dict[str, int]) -> dict | None:
    """What is still on its way to review (None when nothing is): an expert who finds the
    queue empty while the campaign generates is told to wait, not that the work is over."""
    unscored = counts[CandidateStatus.GENERATED] + counts[CandidateStatus.SCORED]
    progress = campaign_progress(campaign=campaign)
    generating = campaign.status == CampaignStatus.RUNNING
    to_make = max(0, progress["total"] - progress["done"]) if generating else 0
    if not (to_make or unscored):
        return None
    eta = progress["eta_s"]
    return {"to_make": to_make, "unscored": unscored, "eta": f"{max(1, round(eta / 60))} min" if eta else ""}


@login_required
def review_next(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(request, slug)
    candidate = candidate_lease_next(user=request.user, campaign=campaign)
    counts = campaign_counts(campaign=campaign)
    context = {"campaign": campaign, "candidate": candidate, "counts": counts}
    if candidate is None:
        context["coming"] = _coming(campaign, counts)
    else:
        context["critics"] = candidate_critics(candidate=candidate)
        context["form"] = ReviewForm(
            initial={"edited_response": candidate.response},
            reasons=stored_config(campaign.config).review.reasons,
        )
    return render(request, "review/review.html", context)


@login_required
@require_POST
def review_submit(request: HttpRequest, slug: str, candidate_id: int) -> HttpResponse:
    campaign = _campaign(request, slug)
    form = ReviewForm(request.POST, reasons=stored_config(campaign.config).review.reasons)
    if not form.is_valid():
        for error in form.non_field_errors() or [str(form.errors)]:
            messages.error(request, error)
        return redirect("review_next", slug=campaign.slug)
    data = form.cleaned_data
    spent = None
    try:
        candidate_review(
            user=request.user,
            candidate_id=candidate_id,
            decision=data["decision"],
            edited_response=data["edited_response"],
            reasons=data["reasons"],
            note=data["note"],
            seconds_spent=spent,
        )
    except (Conflict, InvalidInput, NotFound, Forbidden) as e:
        messages.error(request, str(e))
    else:
        messages.success(request, f"Candidate {candidate_id}: {data['decision']} recorded.")
    return redirect("review_next", slug=campaign.slug)
