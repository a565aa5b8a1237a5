from __future__ import annotations

import difflib
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_POST

from curation.accounts.models import Role
from curation.campaigns.config import stored_config
from curation.campaigns.models import Campaign, CampaignStatus, CandidateStatus
from curation.campaigns.selectors import (
    PASSED_ALL,
    BrowseFilters,
    campaign_counts,
    campaign_get_for_user,
    candidate_browse,
)
from curation.campaigns.services import campaign_cancel, campaign_pause, campaign_resume, campaign_start
from curation.core.errors import AssayError, Conflict, NotFound
from curation.core.local_worker import live_workers
from curation.generation.selectors import campaign_progress
from curation.integrations.argilla.selectors import argilla_status
from curation.metrics.views import diversity_context
from curation.review.assignments import holders_count
from curation.review.models import Decision
from curation.review.selectors import campaign_agreement_recent, decisions_for, expert_throughput
from curation.review.services import candidate_adjudicate, candidate_get_for_reviewer
from curation.scoring.selectors import CALIBRATION_MIN, campaign_calibration, learned_status
from workers.critics import CRITICS, SPECIAL


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


FUNNEL = (
    (CandidateStatus.AUTO_REJECTED, "auto-rejected"),
    (CandidateStatus.IN_REVIEW, "in review"),
    (CandidateStatus.IN_ADJUDICATION, "in adjudication"),
    (CandidateStatus.APPROVED, "approved"),
    (CandidateStatus.REJECTED, "rejected"),
)


def _dashboard(campaign: Campaign, user, counts: dict | None = None, progress: dict | None = None) -> dict:
    """The review dashboard: the funnel, progress, each expert's throughput, agreement, the
    critics' calibration and live leases. Its queries read the campaign's counts per status
    (one index scan) and the review records, which grow with human work, not with rows."""
    counts = counts or campaign_counts(campaign=campaign)
    progress = progress or campaign_progress(campaign=campaign)
    total = sum(counts.values())
    awaiting = counts[CandidateStatus.GENERATED] + counts[CandidateStatus.SCORED]
    funnel = [{"key": "generated", "label": "generated", "n": total, "pct": 100 if total else 0}]
    funnel.append({"key": "awaiting", "label": "awaiting critics", "n": awaiting})
    funnel += [{"key": key, "label": label, "n": counts[key]} for key, label in FUNNEL]
    for row in funnel[1:]:
        row["pct"] = round(100 * row["n"] / total, 1) if total else 0
    leases = holders_count(campaign=campaign)
    pending = counts[CandidateStatus.IN_REVIEW] + counts[CandidateStatus.IN_ADJUDICATION] + awaiting
    working = campaign.status in (CampaignStatus.RUNNING, CampaignStatus.PAUSED)
    per_expert = user.role != Role.EXPERT  # an expert sees the totals, not colleagues' figures
    return {
        "campaign": campaign,
        "counts": counts,
        "progress": progress,
        "funnel": funnel,
        "total": total,
        "leases": leases,
        "agreement": campaign_agreement_recent(campaign=campaign),
        "throughput": expert_throughput(campaign=campaign) if per_expert else None,
        "per_expert": per_expert,
        "calibration": campaign_calibration(campaign=campaign),
        "calibration_min": CALIBRATION_MIN,
        "learned": learned_status(campaign=campaign),
        # Polled while anything can still move; a finished campaign's figures stand still.
        "polling": working or pending > 0 or leases["leases"] > 0,
    }


@login_required
def campaign_dashboard(request: HttpRequest, slug: str) -> HttpResponse:
    """The dashboard panel alone, polled by the campaign page (htmx) every 5 s."""
    return render(request, "campaigns/_dashboard.html", _dashboard(_campaign(request, slug), request.user))


def _filters(request: HttpRequest) -> BrowseFilters:
    get = request.GET
    status = get.get("status", "")
    depth = get.get("depth", "")
    return BrowseFilters(
        q=get.get("q", "").strip()[:200],
        status=status if status in CandidateStatus.values else "",
        critic=get.get("critic", "").strip()[:64],
        reason=get.get("reason", "").strip()[:64],
        reviewer=get.get("reviewer", "").strip()[:150],
        depth=int(depth) if depth.isdigit() and int(depth) < 100 else None,
    )


def _cursor(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def _page_link(request: HttpRequest, key: str, value: int | None) -> str | None:
    """This page's query string with `after` or `before` set: the filters travel along."""
    if value is None:
        return None
    query: QueryDict = request.GET.copy()
    query.pop("after", None)
    query.pop("before", None)
    query[key] = str(value)
    return "?" + query.urlencode()


@login_required
def campaign_detail(request: HttpRequest, slug: str) -> HttpResponse:
    campaign = _campaign(request, slug)
    filters = _filters(request)
    browse = candidate_browse(
        campaign=campaign,
        filters=filters,
        after=_cursor(request.GET.get("after")),
        before=_cursor(request.GET.get("before")),
        size=25,
    )
    for c in browse.rows:  # the experts' decisions beside the critics' verdicts (skips left out)
        entry = browse.decisions[c.pk]
        c.expert_decisions = [r for r in entry["reviews"] if r["decision"] != Decision.SKIP]
        c.adjudicated = entry["adjudication"]
    live = _live(campaign)
    counts = live["counts"]
    dashboard = _dashboard(campaign, request.user, counts=counts, progress=live["progress"])
    config = stored_config(campaign.config)
    mixture = (campaign.config or {}).get("mixture") or {}
    return render(
        request,
        "campaigns/detail.html",
        {
            **live,
            **dashboard,
            "browse": browse,
            "filters": filters,
            "status": filters.status,
            "next_link": _page_link(request, "after", browse.after),
            "previous_link": _page_link(request, "before", browse.before),
            "statuses": [(value, label, counts[value]) for value, label in CandidateStatus.choices],
            "critic_names": [*CRITICS, *SPECIAL],
            "passed_all": PASSED_ALL,
            "reason_codes": sorted({*config.review.reasons, *CRITICS, "learned"}),
            "reviewers": [row["expert"] for row in dashboard["throughput"] or []],
            "max_synthetic_pct": round(100 * float(mixture.get("max_synthetic", 0.3))),
            "max_depth": mixture.get("max_depth", 1),
            "balance_by": mixture.get("balance_by"),
            **diversity_context(campaign),
            "judged": config.judge is not None,
            "argilla": argilla_status(campaign=campaign),
        },
    )


# Adjudication: an admin decides the candidates whose experts disagreed.


def _admin_campaign(request: HttpRequest, slug: str) -> Campaign:
    campaign = _campaign(request, slug)  # first: outside a members-only campaign, a 404
    if not request.user.is_admin_role:
        raise PermissionDenied("Only admins adjudicate.")
    return campaign


TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


def text_diff(original: str, edited: str) -> SafeString:
    """`edited` against `original` word by word, both escaped, with <del> for removed and
    <ins> for added text: model and expert text never becomes markup."""
    a, b = TOKENS.findall(original), TOKENS.findall(edited)
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            out.append(f"<del>{escape(''.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{escape(''.join(b[j1:j2]))}</ins>")
        if op == "equal":
            out.append(escape("".join(a[i1:i2])))
    return mark_safe("".join(out))  # noqa: S308 - every piece is escaped above


@login_required
def adjudication_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The candidates in adjudication, oldest first, read on by keyset."""
    campaign = _admin_campaign(request, slug)
    browse = candidate_browse(
        campaign=campaign,
        filters=BrowseFilters(status=CandidateStatus.IN_ADJUDICATION),
        after=_cursor(request.GET.get("after")),
        before=_cursor(request.GET.get("before")),
        size=25,
    )
    rows = [
        (c, [r for r in browse.decisions[c.pk]["reviews"] if r["decision"] != Decision.SKIP])
        for c in browse.rows
    ]
    return render(
        request,
        "campaigns/adjudication_list.html",
        {
            "campaign": campaign,
            "rows": rows,
            "waiting": campaign_counts(campaign=campaign)[CandidateStatus.IN_ADJUDICATION],
            "next_link": _page_link(request, "after", browse.after),
            "previous_link": _page_link(request, "before", browse.before),
        },
    )


def _next_in_adjudication(campaign: Campaign, after: int) -> int | None:
    """The next candidate waiting for an admin after this one, else the oldest waiting."""
    filters = BrowseFilters(status=CandidateStatus.IN_ADJUDICATION)
    for cursor in (after, None):
        rows = candidate_browse(campaign=campaign, filters=filters, after=cursor, size=1).rows
        if rows:
            return rows[0].pk
    return None


@login_required
def adjudicate(request: HttpRequest, slug: str, candidate_id: int) -> HttpResponse:
    """One candidate in adjudication: the experts' decisions side by side, their edits as
    diffs against the original, and the admin's decision (accept, reject or edit)."""
    campaign = _admin_campaign(request, slug)
    try:
        candidate = candidate_get_for_reviewer(user=request.user, candidate_id=candidate_id)
    except NotFound as e:
        raise Http404(str(e)) from None
    if candidate.campaign_id != campaign.pk:
        raise Http404(f"no candidate {candidate_id} in {campaign.slug}")
    reasons = stored_config(campaign.config).review.reasons
    error = ""
    status = 200
    typed: dict = {}
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        edit = decision == Decision.EDIT
        typed = {
            "decision": decision,
            "reasons": request.POST.getlist("reasons"),
            "note": request.POST.get("note", ""),
            "edited_prompt": request.POST.get("edited_prompt", candidate.prompt),
            "edited_response": request.POST.get("edited_response", candidate.response),
        }
        try:
            done, _ = candidate_adjudicate(
                user=request.user,
                candidate_id=candidate.pk,
                decision=decision,
                edited_response=typed["edited_response"] if edit else None,
                edited_prompt=typed["edited_prompt"] if edit else None,
                reasons=typed["reasons"] if decision == Decision.REJECT else None,
                note=typed["note"],
            )
        except AssayError as e:
            error, status = str(e), 409 if isinstance(e, Conflict) else 400
        else:
            messages.success(request, f"Candidate {candidate.pk}: {done.get_status_display()}.")
            following = _next_in_adjudication(campaign, candidate.pk)
            if following is None:
                messages.info(request, "Nothing else is waiting for adjudication.")
                return redirect("adjudication_list", slug=campaign.slug)
            return redirect("adjudicate", slug=campaign.slug, candidate_id=following)
    entry = decisions_for([candidate])[candidate.pk]
    columns = []
    for r in entry["reviews"]:
        if r["decision"] == Decision.SKIP:
            continue
        columns.append(
            {
                **r,
                "reason_labels": [(code, reasons.get(code, code)) for code in r["reasons"]],
                "prompt_diff": None
                if r["edited_prompt"] is None
                else text_diff(candidate.prompt, r["edited_prompt"]),
                "response_diff": None
                if r["edited_response"] is None
                else text_diff(candidate.response, r["edited_response"]),
            }
        )
    edits = [c for c in columns if c["decision"] == Decision.EDIT]
    start = next((c for c in edits if c["reviewer"] == request.GET.get("start")), edits[0] if edits else None)
    if not typed:
        typed = {
            "decision": "",
            "reasons": [],
            "note": "",
            "edited_prompt": (start or {}).get("edited_prompt") or candidate.prompt,
            "edited_response": (start or {}).get("edited_response") or candidate.response,
        }
    return render(
        request,
        "campaigns/adjudicate.html",
        {
            "campaign": campaign,
            "candidate": candidate,
            "columns": columns,
            "edits": edits,
            "start": start,
            "adjudication": entry["adjudication"],
            "reasons": list(reasons.items()),
            "typed": typed,
            "error": error,
            "list_url": reverse("adjudication_list", args=[campaign.slug]),
        },
        status=status,
    )
