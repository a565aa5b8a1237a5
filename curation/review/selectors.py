from __future__ import annotations

from curation.accounts.models import User
from curation.campaigns.models import Candidate
from curation.core.errors import NotFound


def candidate_get_for_user(*, user: User, candidate_id: int) -> Candidate:
    try:
        return Candidate.objects.select_related("campaign").get(pk=candidate_id)
    except Candidate.DoesNotExist:
        raise NotFound(f"no candidate {candidate_id}") from None
