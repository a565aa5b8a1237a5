"""What the review records say: agreement between experts, each expert's throughput, and
the decisions on a page of candidates."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import timedelta

from django.core.cache import cache
from django.db.models import Avg, Count, Max, Q
from django.utils import timezone

from curation.accounts.models import User
from curation.campaigns.models import Campaign, Candidate
from curation.review.models import Adjudication, Decision, Review
from workers.metrics.agreement import agreement, pairs

PAIR_MIN_ITEMS = 5  # fewer common items than this says little about a pair


def _label(decision: str, edited_response: str | None, edited_prompt: str | None) -> str:
    """Two different edits disagree: an edit's label names its text."""
    if decision != Decision.EDIT:
        return decision
    text = f"{edited_prompt}\x00{edited_response}".encode()
    return "edit:" + hashlib.sha256(text).hexdigest()[:12]


def campaign_agreement(*, campaign: Campaign) -> dict:
    """Percent agreement, Fleiss' kappa and Krippendorff's alpha over the campaign's items
    that two or more experts decided, and Cohen's kappa per expert pair."""
    rows = (
        Review.objects.filter(candidate__campaign=campaign, candidate__decisions__gte=2)
        .exclude(decision=Decision.SKIP)
        .values_list("candidate_id", "reviewer_id", "decision", "edited_response", "edited_prompt")
        .order_by("candidate_id", "pk")
    )
    items: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for candidate_id, reviewer_id, decision, response, prompt in rows.iterator(chunk_size=5000):
        items[candidate_id].append((reviewer_id, _label(decision, response, prompt)))
    overall = agreement(items.values()).to_dict()
    names = dict(
        User.objects.filter(reviews__candidate__campaign=campaign).values_list("pk", "username").distinct()
    )
    overall["pairs"] = [
        {
            "a": names.get(p.a, str(p.a)),
            "b": names.get(p.b, str(p.b)),
            "items": p.items,
            "percent": round(p.percent, 1),
            "kappa": None if p.kappa is None else round(p.kappa, 4),
        }
        for p in pairs(items.values(), min_items=PAIR_MIN_ITEMS)
    ]
    return overall


AGREEMENT_FRESH_S = 30  # the dashboard polls every 5 s; agreement reads every review


def campaign_agreement_recent(*, campaign: Campaign) -> dict:
    """campaign_agreement at most AGREEMENT_FRESH_S old: a dashboard open in several
    browsers does not re-read every overlapping review on each poll."""
    return cache.get_or_set(
        f"assay:agreement:{campaign.pk}", lambda: campaign_agreement(campaign=campaign), AGREEMENT_FRESH_S
    )


def expert_throughput(*, campaign: Campaign, hours: int = 1) -> list[dict]:
    """Per expert: decisions in all and in the last `hours`, skips, median-free mean seconds
    per decision (as the page measured it), and the last decision's time."""
    since = timezone.now() - timedelta(hours=hours)
    rows = (
        Review.objects.filter(candidate__campaign=campaign)
        .values("reviewer__username")
        .annotate(
            decided=Count("pk", filter=~Q(decision=Decision.SKIP)),
            recent=Count("pk", filter=~Q(decision=Decision.SKIP) & Q(created_at__gte=since)),
            skipped=Count("pk", filter=Q(decision=Decision.SKIP)),
            seconds=Avg("seconds_spent", filter=~Q(decision=Decision.SKIP)),
            last=Max("created_at"),
        )
        .order_by("-decided", "reviewer__username")
    )
    return [
        {
            "expert": r["reviewer__username"],
            "decided": r["decided"],
            "recent": r["recent"],
            "skipped": r["skipped"],
            "seconds": None if r["seconds"] is None else round(r["seconds"], 1),
            "last": r["last"],
        }
        for r in rows
    ]


def decisions_for(candidates: list[Candidate]) -> dict[int, dict]:
    """Each candidate's expert decisions (reviewer, decision, reasons, note, edits) and its
    adjudication, in two queries for the whole page."""
    ids = [c.pk for c in candidates]
    out: dict[int, dict] = {pk: {"reviews": [], "adjudication": None} for pk in ids}
    reviews = Review.objects.filter(candidate_id__in=ids).select_related("reviewer").order_by("pk")
    for r in reviews:
        out[r.candidate_id]["reviews"].append(
            {
                "reviewer": r.reviewer.username,
                "decision": r.decision,
                "reasons": r.reasons,
                "note": r.note,
                "edited_response": r.edited_response,
                "edited_prompt": r.edited_prompt,
                "seconds_spent": r.seconds_spent,
                "edit_distance": r.edit_distance,
                "at": r.created_at,
            }
        )
    for a in Adjudication.objects.filter(candidate_id__in=ids).select_related("by"):
        out[a.candidate_id]["adjudication"] = {
            "by": a.by.username,
            "decision": a.decision,
            "reasons": a.reasons,
            "note": a.note,
            "edited_response": a.edited_response,
            "edited_prompt": a.edited_prompt,
            "at": a.created_at,
        }
    return out
