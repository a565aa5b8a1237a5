from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from curation.campaigns.selectors import campaign_counts, campaign_get_for_user
from curation.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from curation.review.forms import ReviewForm
from curation.review.services import candidate_lease_next, candidate_review


def _campaign(request: HttpRequest, slug: str):
    if not request.user.can_review():
        raise PermissionDenied("Only experts and admins review.")
    try:
        return campaign_get_for_user(user=request.user, slug=slug)
    except NotFound as e:
        raise Http404(str(e)) from None


@login_required
def review_next(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(request, slug)
    candidate = candidate_lease_next(user=request.user, campaign=campaign)
    context = {"campaign": campaign, "candidate": candidate, "counts": campaign_counts(campaign=campaign)}
    if candidate is not None:
        # Failed critics first: they are what the expert should look at.
        context["scores"] = candidate.scores.order_by("passed", "critic")
        context["form"] = ReviewForm(initial={"edited_response": candidate.response})
    return render(request, "review/review.html", context)


@login_required
@require_POST
def review_submit(request: HttpRequest, slug: str, candidate_id: int) -> HttpResponse:
    campaign = _campaign(request, slug)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        for error in form.non_field_errors() or [str(form.errors)]:
            messages.error(request, error)
        return redirect("review_next", slug=campaign.slug)
    data = form.cleaned_data
    leased = (
        request.user.pk
        and campaign.candidates.filter(pk=candidate_id, leased_to=request.user)
        .values_list("lease_expires_at", flat=True)
        .first()
    )
    spent = None
    if leased:  # time since the lease was taken
        spent = max(0.0, (timezone.now() - leased).total_seconds() + settings.ASSAY["LEASE_SECONDS"])
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
