from __future__ import annotations

from django.http import HttpRequest
from ninja import Router, Schema

from curation.core.auth import ADMIN, require_role
from curation.scoring.services import candidate_reinstate

router = Router(tags=["scoring"])


class ReinstateIn(Schema):
    reason: str


class ReinstateOut(Schema):
    id: int
    status: str
    reasons_before: list[str]
    reinstated_by: str
    reason: str


@router.post("/candidates/{candidate_id}/reinstate", response=ReinstateOut)
def reinstate(request: HttpRequest, candidate_id: int, body: ReinstateIn):
    """An admin sends an auto-rejected candidate back to review (409 for any other status)."""
    user = require_role(request, ADMIN)
    c = candidate_reinstate(user=user, candidate_id=candidate_id, reason=body.reason)
    record = c.reinstatements.order_by("-created_at").first()
    return {
        "id": c.pk,
        "status": c.status,
        "reasons_before": record.reasons_before,
        "reinstated_by": user.username,
        "reason": record.reason,
    }
