from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from curation.campaigns.config import stored_config
from curation.campaigns.models import Campaign, CampaignStatus, CandidateStatus
from curation.campaigns.selectors import campaign_counts, campaign_get_for_user, candidate_list
from curation.campaigns.services import campaign_cancel, campaign_pause, campaign_resume, campaign_start
from curation.core.errors import AssayError, NotFound
from curation.core.local_worker import live_workers
from curation.generation.selectors import campaign_progress
from curation.metrics.views import diversity_context
from curation.review.models import Decision, Review
from curation.scoring.selectors import CALIBRATION_MIN, campaign_calibration, learned_status


def _campaign(request: HttpRequest, slug: str) -> Campaign:
    try:
        return campaign_get_for_user(user=request.user, slug=slug)
    except NotFound as e:
        raise Http404(str(e)) from None


def _duration(seconds: int | None) -> str:
    if not seconds:
        return ""
    if seconds < 90:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes / 60:.1f} h"


def _live(campaign: Campaign) -> dict:
    """What the progress panel shows; the page polls it while work is under way."""
    counts = campaign_counts(campaign=campaign)
    queue = campaign.generation_queue
    unscored = counts[CandidateStatus.GENERATED] + counts[CandidateStatus.SCORED]
    active = campaign.status in (CampaignStatus.RUNNING, CampaignStatus.PAUSED) or unscored > 0
    progress = campaign_progress(campaign=campaign)
    return {
        "campaign": campaign,
        "counts": counts,
        "progress": progress,
        "eta": _duration(progress["eta_s"]),
        "unscored": unscored,
        "queue": queue,
        "workers": live_workers(queue),
        "active": active,
    }


@login_required
def campaign_live(request: HttpRequest, slug: str) -> HttpResponse:
    """The progress panel alone, polled by the page (htmx) while the campaign works."""
    return render(request, "campaigns/_progress.html", _live(_campaign(request, slug)))


CONTROLS = {
    "run": campaign_start,
    "pause": campaign_pause,
    "resume": campaign_resume,
    "cancel": campaign_cancel,
}


@login_required
@require_POST
def campaign_control(request: HttpRequest, slug: str) -> HttpResponse:
    """Run, pause, resume or cancel (admins), then back to the campaign page."""
    if not request.user.is_admin_role:
        raise PermissionDenied("Only admins run, pause, resume or cancel campaigns.")
    campaign = _campaign(request, slug)
    action = request.POST.get("action", "")
    if action not in CONTROLS:
        messages.error(request, f"unknown action {action!r}")
        return redirect("campaign_detail", slug=campaign.slug)
    try:
        CONTROLS[action](campaign=campaign)
    except AssayError as e:
        messages.error(request, str(e))
    else:
        campaign.refresh_from_db(fields=["status"])
        messages.success(request, f"{campaign.slug} is now {campaign.get_status_display()}.")
    return redirect("campaign_detail", slug=campaign.slug)


@login_required
def campaign_detail(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(request, slug)
    status = request.GET.get("status") or None
    if status not in (None, *CandidateStatus.values):
        status = None
    # The experts' decisions beside the critics' verdicts: one more query per page, not per row.
    decisions = Review.objects.exclude(decision=Decision.SKIP).select_related("reviewer").order_by("id")
    candidates = candidate_list(campaign=campaign, status=status).prefetch_related(
        Prefetch("reviews", queryset=decisions, to_attr="decisions")
    )
    page = Paginator(candidates, 25).get_page(request.GET.get("page"))
    live = _live(campaign)
    counts = live["counts"]
    mixture = (campaign.config or {}).get("mixture") or {}
    return render(
        request,
        "campaigns/detail.html",
        {
            **live,
            "page": page,
            "status": status,
            "statuses": [(value, label, counts[value]) for value, label in CandidateStatus.choices],
            "max_synthetic_pct": round(100 * float(mixture.get("max_synthetic", 0.3))),
            "max_depth": mixture.get("max_depth", 1),
            "balance_by": mixture.get("balance_by"),
            **diversity_context(campaign),
            "calibration": campaign_calibration(campaign=campaign),
            "calibration_min": CALIBRATION_MIN,
            "learned": learned_status(campaign=campaign),
            "judged": stored_config(campaign.config).judge is not None,
        },
    )
