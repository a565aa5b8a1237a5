from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.http import HttpRequest
from ninja import Router, Schema

from curation.campaigns.models import Candidate, CandidateStatus
from curation.campaigns.selectors import (
    campaign_counts,
    campaign_counts_many,
    campaign_get_for_user,
    campaign_list,
    candidate_list,
    critic_scores,
)
from curation.core.auth import READ, require_role
from curation.core.errors import InvalidInput
from curation.generation.selectors import campaign_progress
from curation.review.selectors import decisions_for

router = Router(tags=["campaigns"])
MAX_PAGE = 10**9
MAX_ID = 2**63 - 1


class CampaignOut(Schema):
    slug: str
    name: str
    task: str
    source: str
    count: int
    status: str
    error: str
    counts: dict[str, int]


class ProgressOut(Schema):
    done: int
    total: int
    per_minute: float
    tokens_per_s: float
    eta_s: int | None
    batches: dict[str, int]


class CampaignDetailOut(CampaignOut):
    progress: ProgressOut


class ReviewOut(Schema):
    reviewer: str
    decision: str
    reasons: list[str]
    note: str
    edited_response: str | None
    edited_prompt: str | None
    seconds_spent: float | None = None
    edit_distance: int = 0
    at: datetime


class AdjudicationOut(Schema):
    by: str
    decision: str
    reasons: list[str]
    note: str
    edited_response: str | None
    edited_prompt: str | None
    at: datetime


class CandidateOut(Schema):
    id: int
    prompt: str
    response: str
    status: str
    reasons: list[str]
    critics: dict[str, float | None]
    origin: str
    generation_depth: int
    edited_response: str | None
    edited_prompt: str | None
    needed: int
    decisions: int
    reviews: list[ReviewOut]
    adjudication: AdjudicationOut | None


class CandidatePage(Schema):
    count: int | None  # None when read by ?after=
    page: int | None
    pages: int | None
    next: str | None
    previous: str | None
    next_after: str | None
    items: list[CandidateOut]


def _campaign_out(c, counts: dict[str, int]) -> dict:
    return {
        "slug": c.slug,
        "name": c.name,
        "task": c.task,
        "source": c.source.name,
        "count": c.count,
        "status": c.status,
        "error": c.error,
        "counts": counts,
    }


def candidate_out(c: Candidate, decided: dict | None = None) -> dict:
    """A candidate with its critics and, when `decided` (decisions_for) is given, every
    expert decision (reviewer, reasons, note, edits) and its adjudication."""
    return {
        **(decided or {"reviews": [], "adjudication": None}),
        "id": c.pk,
        "prompt": c.prompt,
        "response": c.response,
        "status": c.status,
        "reasons": c.reasons,
        "critics": critic_scores(c),
        "origin": c.origin,
        "generation_depth": c.generation_depth,
        "edited_response": c.edited_response,
        "edited_prompt": c.edited_prompt,
        "needed": c.needed,
        "decisions": c.decisions,
    }


@router.get("/campaigns", response=list[CampaignOut])
def campaigns(request: HttpRequest):
    user = require_role(request, READ)
    rows = list(campaign_list(user=user))
    counts = campaign_counts_many(campaigns=rows)
    return [_campaign_out(c, counts[c.pk]) for c in rows]


@router.get("/campaigns/{slug}", response=CampaignDetailOut)
def campaign(request: HttpRequest, slug: str):
    """One campaign: status (with the error text of a failed one), counts, and generation
    progress with its rate and ETA."""
    user = require_role(request, READ)
    c = campaign_get_for_user(user=user, slug=slug)
    return {**_campaign_out(c, campaign_counts(campaign=c)), "progress": campaign_progress(campaign=c)}


@router.get("/campaigns/{slug}/candidates", response=CandidatePage)
def candidates(
    request: HttpRequest, slug: str, status: str | None = None, page: int = 1, after: int | None = None
):
    """A page of candidates with their critics and expert decisions. `?page=N` numbers the
    pages; `?after=ID` (what `next_after` gives) reads on past a candidate id, as fast at
    the millionth row as at the first."""
    user = require_role(request, READ)
    c = campaign_get_for_user(user=user, slug=slug)
    if status and status not in CandidateStatus.values:
        raise InvalidInput(f"status must be one of {', '.join(CandidateStatus.values)}")
    if not 1 <= page <= MAX_PAGE:
        raise InvalidInput(f"page runs from 1 to {MAX_PAGE}")
    if after is not None and not 0 <= after <= MAX_ID:
        raise InvalidInput("after is a candidate id")
    size = settings.ASSAY["API_PAGE_SIZE"]
    qs = candidate_list(campaign=c, status=status)
    # Reading on by ?after= counts nothing: a COUNT over a million rows per page is the
    # cost keyset pages avoid.
    total = qs.count() if after is None else None
    pages = max(1, -(-total // size)) if total is not None else None
    if after is not None:
        rows = list(qs.filter(pk__gt=after)[:size])
    else:
        rows = list(qs[(page - 1) * size : page * size])
    decided = decisions_for(rows)
    items = [candidate_out(x, decided[x.pk]) for x in rows]
    tail = f"&status={status}" if status else ""

    def link(n: int) -> str | None:
        if pages is None or not 1 <= n <= pages:
            return None
        return request.build_absolute_uri(f"?page={n}{tail}")

    more = len(rows) == size
    return {
        "count": total,
        "page": page if after is None else None,
        "pages": pages,
        "next": link(page + 1),
        "previous": link(page - 1),
        "next_after": request.build_absolute_uri(f"?after={rows[-1].pk}{tail}") if more and rows else None,
        "items": items,
    }
