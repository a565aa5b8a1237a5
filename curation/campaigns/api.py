from __future__ import annotations

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

router = Router(tags=["campaigns"])


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


class CandidatePage(Schema):
    count: int
    page: int
    pages: int
    next: str | None
    previous: str | None
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


def candidate_out(c: Candidate) -> dict:
    return {
        "id": c.pk,
        "prompt": c.prompt,
        "response": c.response,
        "status": c.status,
        "reasons": c.reasons,
        "critics": critic_scores(c),
        "origin": c.origin,
        "generation_depth": c.generation_depth,
        "edited_response": c.edited_response,
    }


@router.get("/campaigns", response=list[CampaignOut])
def campaigns(request: HttpRequest):
    require_role(request, READ)
    rows = list(campaign_list())
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
def candidates(request: HttpRequest, slug: str, status: str | None = None, page: int = 1):
    user = require_role(request, READ)
    c = campaign_get_for_user(user=user, slug=slug)
    if status and status not in CandidateStatus.values:
        raise InvalidInput(f"status must be one of {', '.join(CandidateStatus.values)}")
    if page < 1:
        raise InvalidInput("page starts at 1")
    size = settings.ASSAY["API_PAGE_SIZE"]
    qs = candidate_list(campaign=c, status=status)
    total = qs.count()
    pages = max(1, -(-total // size))
    items = [candidate_out(x) for x in qs[(page - 1) * size : page * size]]

    def link(n: int) -> str | None:
        if not 1 <= n <= pages:
            return None
        return request.build_absolute_uri(f"?page={n}" + (f"&status={status}" if status else ""))

    return {
        "count": total,
        "page": page,
        "pages": pages,
        "next": link(page + 1),
        "previous": link(page - 1),
        "items": items,
    }
