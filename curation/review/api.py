from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Router, Schema, Status

from curation.campaigns.selectors import campaign_get_for_user, critic_scores
from curation.core.auth import ADMIN, REVIEW, require_role
from curation.review.assignments import candidate_lease_next, candidate_release
from curation.review.models import Decision
from curation.review.services import (
    candidate_adjudicate,
    candidate_get_for_reviewer,
    candidate_review,
    review_undo,
)

router = Router(tags=["review"])


class LeasedOut(Schema):
    id: int
    campaign: str
    prompt: str
    response: str
    critics: dict[str, float | None]
    reasons: list[str]
    generation_depth: int
    needed: int
    decisions: int
    lease_expires: datetime


class ReviewIn(Schema):
    decision: Decision
    edited_response: str | None = None
    edited_prompt: str | None = None
    reasons: list[str] | None = None
    note: str = ""
    seconds_spent: float | None = None


class ReviewOut(Schema):
    id: int
    status: str
    decision: str
    replayed: bool


class AdjudicateIn(Schema):
    decision: str
    edited_response: str | None = None
    edited_prompt: str | None = None
    reasons: list[str] | None = None
    note: str = ""


class CandidateStateOut(Schema):
    id: int
    status: str
    decisions: int
    holders: int


class ReleasedOut(CandidateStateOut):
    released: bool  # false: the caller held no lease on it (nothing changed)


class AdjudicatedOut(Schema):
    id: int
    status: str
    replayed: bool


def _state(c) -> dict:
    return {"id": c.pk, "status": c.status, "decisions": c.decisions, "holders": c.holders}


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
            "generation_depth": c.generation_depth,
            "needed": c.needed,
            "decisions": c.decisions,
            "lease_expires": c.lease_expires_at,
        },
    )


@router.post("/candidates/{candidate_id}/review", response=ReviewOut)
def review(request: HttpRequest, candidate_id: int, body: ReviewIn):
    """Record the calling expert's decision; 409 when the lease was lost or it is decided."""
    user = require_role(request, REVIEW)
    result = candidate_review(
        user=user,
        candidate_id=candidate_id,
        decision=body.decision,
        edited_response=body.edited_response,
        edited_prompt=body.edited_prompt,
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


@router.post("/candidates/{candidate_id}/undo", response=CandidateStateOut)
def undo(request: HttpRequest, candidate_id: int):
    """Take back the calling expert's decision while no one has built on it; the expert
    holds the candidate again."""
    user = require_role(request, REVIEW)
    return _state(review_undo(user=user, candidate_id=candidate_id))


@router.post("/candidates/{candidate_id}/release", response=ReleasedOut)
def release(request: HttpRequest, candidate_id: int):
    """Give a leased candidate back undecided; `released` says whether the caller held it."""
    user = require_role(request, REVIEW)
    released = candidate_release(user=user, candidate_id=candidate_id)
    return {**_state(candidate_get_for_reviewer(user=user, candidate_id=candidate_id)), "released": released}


@router.post("/candidates/{candidate_id}/adjudicate", response=AdjudicatedOut)
def adjudicate(request: HttpRequest, candidate_id: int, body: AdjudicateIn):
    """An admin decides an `in_adjudication` candidate (accept, reject or edit)."""
    user = require_role(request, ADMIN)
    candidate, replayed = candidate_adjudicate(
        user=user,
        candidate_id=candidate_id,
        decision=body.decision,
        edited_response=body.edited_response,
        edited_prompt=body.edited_prompt,
        reasons=body.reasons,
        note=body.note,
    )
    return {"id": candidate.pk, "status": candidate.status, "replayed": replayed}
