"""The expert's review page. Opening it takes no lease: it shows the item the expert holds,
or a start screen saying what waits; "Start reviewing" leases, and each decision leases the
next item, so the flow keeps going without clicks. A decision that fails (a lost lease, a
rule broken) re-renders the item with what the expert typed and says why."""

from __future__ import annotations

from contextlib import suppress

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from curation.accounts.models import User
from curation.campaigns.config import stored_config
from curation.campaigns.models import Campaign, CampaignStatus, Candidate, CandidateStatus
from curation.campaigns.selectors import campaign_counts, campaign_get_for_user
from curation.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from curation.generation.selectors import campaign_progress
from curation.review.assignments import (
    assignment_held,
    assignment_renew,
    candidate_lease_next,
    candidate_release,
    holders_count,
    lease_seconds,
    queue,
)
from curation.review.forms import ReviewForm, seconds_spent
from curation.review.guidelines import guidelines_html
from curation.review.models import Decision
from curation.review.services import candidate_get_for_reviewer, candidate_review, review_undo_last
from curation.scoring.selectors import candidate_critics

QUEUE_SHOWN = 1000  # the start screen counts the expert's queue up to this, then says "1000+"
DECIDED_KEY = "review_decided"  # the page tells the browser to drop this candidate's draft


def _campaign(request: HttpRequest, slug: str) -> Campaign:
    if not request.user.can_review():
        raise PermissionDenied("Only experts and admins review.")
    try:
        return campaign_get_for_user(user=request.user, slug=slug)
    except NotFound as e:
        raise Http404(str(e)) from None


def _coming(campaign: Campaign, counts: dict[str, int]) -> dict | None:
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


def _posted(request: HttpRequest) -> dict:
    """What the expert sent, to put back in the form when the decision fails."""
    post = request.POST
    return {
        "decision": post.get("decision", ""),
        "reasons": post.getlist("reasons"),
        "note": post.get("note", ""),
        "edited_response": post.get("edited_response"),
        "edited_prompt": post.get("edited_prompt"),
        "spent": seconds_spent(post.get("seconds_spent")) or 0,
    }


def _item(campaign: Campaign, candidate: Candidate, posted: dict | None) -> dict:
    posted = posted or {}
    vocabulary = stored_config(campaign.config).review.reasons
    ticked = set(posted.get("reasons") or ())
    response = posted.get("edited_response")
    prompt = posted.get("edited_prompt")
    return {
        "candidate": candidate,
        "critics": candidate_critics(candidate=candidate),
        "reasons": [
            {"n": n, "code": code, "label": label, "checked": code in ticked}
            for n, (code, label) in enumerate(vocabulary.items(), start=1)
        ],
        "note": posted.get("note", ""),
        "edited_response": candidate.response if response is None else response,
        "edited_prompt": candidate.prompt if prompt is None else prompt,
        "spent": posted.get("spent", 0),
        # Renew well before the lease runs out, but not more than once a minute.
        "renew_every": max(5, min(60, lease_seconds() // 3)),
    }


def _start(user: User, campaign: Campaign, counts: dict[str, int]) -> dict:
    waiting = queue(user=user, campaign=campaign)[: QUEUE_SHOWN + 1].count()
    vocabulary = stored_config(campaign.config).review.reasons
    return {
        "waiting": min(waiting, QUEUE_SHOWN),
        "waiting_more": waiting > QUEUE_SHOWN,
        "coming": _coming(campaign, counts),
        "reasons": [
            {"n": n, "code": c, "label": label} for n, (c, label) in enumerate(vocabulary.items(), 1)
        ],
    }


def _page(
    request: HttpRequest,
    campaign: Campaign,
    *,
    candidate: Candidate | None = None,
    posted: dict | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    """The item the expert holds (or `candidate`, when a decision on it failed), else the
    start screen."""
    held = assignment_held(user=request.user, campaign=campaign)
    if candidate is None and held is not None:
        candidate = held.candidate
    counts = campaign_counts(campaign=campaign)
    context = {
        "campaign": campaign,
        "counts": counts,
        "holders": holders_count(campaign=campaign),
        "guidelines": guidelines_html(stored_config(campaign.config).review.guidelines),
        "error": error,
        "decided": request.session.pop(DECIDED_KEY, None) if request.method == "GET" else None,
        "expires": held.expires_at
        if held is not None and candidate and held.candidate_id == candidate.pk
        else None,
    }
    if candidate is not None:
        context.update(_item(campaign, candidate, posted))
    else:
        context.update(_start(request.user, campaign, counts))
        context["refresh"] = not context["waiting"] and bool(
            context["coming"] or context["holders"]["leases"]
        )
    return render(request, "review/review.html", context, status=status)


@login_required
@require_GET
def review_next(request: HttpRequest, slug: str) -> HttpResponse:
    """The review page; it never takes a lease."""
    return _page(request, _campaign(request, slug))


@login_required
@require_POST
def review_start(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(request, slug)
    try:
        candidate_lease_next(user=request.user, campaign=campaign)
    except Conflict as e:
        return _page(request, campaign, error=str(e), status=409)
    return redirect("review_next", slug=campaign.slug)


def _candidate_in(request: HttpRequest, campaign: Campaign, candidate_id: int) -> Candidate:
    try:
        candidate = candidate_get_for_reviewer(user=request.user, candidate_id=candidate_id)
    except NotFound as e:
        raise Http404(str(e)) from None
    if candidate.campaign_id != campaign.pk:
        raise Http404(f"no candidate {candidate_id} in {campaign.slug}")
    return candidate


def _conflict_text(request: HttpRequest, campaign: Campaign, candidate: Candidate, error: Conflict) -> str:
    kept = (
        "your edit is kept below"
        if request.POST.get("decision") == Decision.EDIT
        else "what you chose is kept below"
    )
    held = assignment_held(user=request.user, campaign=campaign)
    lost = candidate.status == CandidateStatus.IN_REVIEW and (
        held is None or held.candidate_id != candidate.pk
    )
    if lost:
        full = candidate.holders >= candidate.needed - candidate.decisions
        taken = (
            " and another expert took it" if full and candidate.holders else " and it went back to the queue"
        )
        return (
            f"Your lease on this item ran out{taken}; {kept} — copy it or undo. "
            "Nothing was recorded. Press Start reviewing to take the next item."
        )
    return f"{str(error)[:1].upper()}{str(error)[1:]}. Nothing was recorded; {kept} — copy it if you need it."


@login_required
@require_POST
def review_submit(request: HttpRequest, slug: str, candidate_id: int) -> HttpResponse:
    campaign = _campaign(request, slug)
    candidate = _candidate_in(request, campaign, candidate_id)
    posted = _posted(request)
    form = ReviewForm(request.POST, reasons=stored_config(campaign.config).review.reasons)
    if not form.is_valid():
        problems = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())
        return _page(request, campaign, candidate=candidate, posted=posted, error=problems, status=400)
    data = form.cleaned_data
    decision = data["decision"]
    edit = decision == Decision.EDIT

    def edited(field: str) -> str | None:  # a field the form did not send is not edited
        return data[field] if edit and field in request.POST else None

    try:
        candidate_review(
            user=request.user,
            candidate_id=candidate.pk,
            decision=decision,
            edited_response=edited("edited_response"),
            edited_prompt=edited("edited_prompt"),
            reasons=data["reasons"] if decision == Decision.REJECT else [],
            note=data["note"],
            seconds_spent=seconds_spent(request.POST.get("seconds_spent")),
        )
    except InvalidInput as e:
        text = f"{str(e)[:1].upper()}{str(e)[1:]}."
        return _page(request, campaign, candidate=candidate, posted=posted, error=text, status=400)
    except Conflict as e:
        candidate.refresh_from_db()
        text = _conflict_text(request, campaign, candidate, e)
        return _page(request, campaign, candidate=candidate, posted=posted, error=text, status=409)
    except Forbidden as e:
        raise PermissionDenied(str(e)) from None
    request.session[DECIDED_KEY] = candidate.pk
    messages.success(request, f"Candidate {candidate.pk}: {decision} recorded.")
    with suppress(Conflict):  # too busy: the start screen offers the next item instead
        candidate_lease_next(user=request.user, campaign=campaign)
    return redirect("review_next", slug=campaign.slug)


@login_required
@require_POST
def review_undo(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(request, slug)
    try:
        candidate = review_undo_last(user=request.user, campaign=campaign)
    except Conflict as e:
        return _page(request, campaign, error=f"Nothing undone: {e}.", status=409)
    messages.success(request, f"Candidate {candidate.pk}: your decision is undone; decide it again.")
    return redirect("review_next", slug=campaign.slug)


@login_required
@require_POST
def review_release(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(request, slug)
    try:
        candidate_id = int(request.POST.get("candidate", ""))
    except ValueError:
        held = assignment_held(user=request.user, campaign=campaign)
        if held is None:
            return redirect("review_next", slug=campaign.slug)
        candidate_id = held.candidate_id
    candidate = _candidate_in(request, campaign, candidate_id)
    if candidate_release(user=request.user, candidate_id=candidate.pk):
        messages.success(request, f"Candidate {candidate.pk} released: it goes back to the queue.")
    return redirect("review_next", slug=campaign.slug)


@login_required
@require_POST
def review_renew(request: HttpRequest, slug: str, candidate_id: int) -> JsonResponse:
    """The page's heartbeat while the expert works on an item: the lease is extended, or
    the page learns (409) that it is gone and says so before the expert submits."""
    campaign = _campaign(request, slug)
    _candidate_in(request, campaign, candidate_id)
    expires = assignment_renew(user=request.user, candidate_id=candidate_id)
    if expires is None:
        return JsonResponse(
            {"detail": "your lease on this item ran out; it went back to the queue"}, status=409
        )
    return JsonResponse({"expires": expires.isoformat(), "until": expires.strftime("%H:%M")})
