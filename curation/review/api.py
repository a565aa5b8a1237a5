from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status

from curation.campaigns.selectors import campaign_get_for_user, critic_scores
from curation.core.auth import REVIEW, require_role
from curation.review.models import Decision
from curation.review.services import candidate_lease_next, candidate_review

router = Router(tags=["review"])


class LeasedOut(Schema):
    id: int
    campaign: str
    prompt: str
    response: str
    critics: dict[str, float | None]
    reasons: list[str]
    lease_expires: datetime


class ReviewIn(Schema):
    decision: Decision
    edited_response: str | None = None
    reasons: list[str] | None = None
    note: str = ""
    seconds_spent: float | None = None


class ReviewOut(Schema):
    id: int
    status: str
    decision: str
    replayed: bool


@router.post("/campaigns/{slug}/next", response={200: LeasedOut, 204: None})
def next_candidate(request: HttpRequest, slug: str):
    user = require_role(request, REVIEW)
    campaign = campaign_get_for_user(user=user, slug=slug)
    c = candidate_lease_next(user=user, campaign=campaign)
    if c is None:
        return Status(204, None)
    return Status(
        200,
        {
            "id": c.pk,
            "campaign": campaign.slug,
            "prompt": c.prompt,
            "response": c.response,
            "critics": critic_scores(c),
            "reasons": c.reasons,
            "lease_expires": c.lease_expires_at,
        },
    )


@router.post("/candidates/{candidate_id}/review", response=ReviewOut)
def review(request: HttpRequest, candidate_id: int, body: ReviewIn):
    user = require_role(request, REVIEW)
    result = candidate_review(
        user=user,
        candidate_id=candidate_id,
        decision=body.decision,
        edited_response=body.edited_response,
        reasons=body.reasons,
        note=body.note,
        seconds_spent=body.seconds_spent,
    )
    return {
        "id": result.candidate.pk,
        "status": result.candidate.status,
        "decision": result.review.decision,
        "replayed": result.replayed,
    }
