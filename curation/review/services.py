"""Leasing candidates to experts and recording their decisions.

Leases are taken by conditional update (or SKIP LOCKED on PostgreSQL), so two experts
can never hold the same candidate (label-studio#795), and a decision sent again after
a network failure is answered, not lost or doubled (label-studio#6675)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from curation.accounts.models import User
from curation.campaigns.config import stored_config
from curation.campaigns.models import Campaign, Candidate, CandidateStatus
from curation.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from curation.review.models import Decision, Review
from curation.scoring.learning import learned_maybe_queue

OUTCOME = {
    Decision.ACCEPT: CandidateStatus.APPROVED,
    Decision.EDIT: CandidateStatus.APPROVED,
    Decision.REJECT: CandidateStatus.REJECTED,
}


def _lease_seconds() -> int:
    return settings.ASSAY["LEASE_SECONDS"]


def _require_reviewer(user: User) -> None:
    if not user.can_review():
        raise Forbidden(f"{user.username} is a {user.role}: only experts and admins review")


def candidate_lease_next(*, user: User, campaign: Campaign) -> Candidate | None:
    """The candidate this expert should review next, leased to them; None when none is left.
    Asking again while holding a live lease returns the same candidate."""
    _require_reviewer(user)
    now = timezone.now()
    held = (
        Candidate.objects.filter(
            campaign=campaign, status=CandidateStatus.IN_REVIEW, leased_to=user, lease_expires_at__gt=now
        )
        .order_by("id")
        .first()
    )
    if held:
        return held
    free = (
        Candidate.objects.filter(campaign=campaign, status=CandidateStatus.IN_REVIEW)
        .filter(Q(leased_to__isnull=True) | Q(lease_expires_at__lte=now))
        .exclude(reviews__reviewer=user)  # skipped (or somehow decided) by this expert before
        .order_by("-priority", "id")
    )
    expires = now + timedelta(seconds=_lease_seconds())
    skip_locked = connection.features.has_select_for_update_skip_locked
    for _ in range(20):
        with transaction.atomic():
            # PostgreSQL: each expert skips rows another is taking. SQLite: the IMMEDIATE
            # transaction already serializes writers, so the conditional update suffices.
            pick = (free.select_for_update(skip_locked=True, of=("self",)) if skip_locked else free).first()
            if pick is None:
                return None
            taken = Candidate.objects.filter(
                Q(leased_to__isnull=True) | Q(lease_expires_at__lte=now),
                pk=pick.pk,
                status=CandidateStatus.IN_REVIEW,
            ).update(leased_to=user, lease_expires_at=expires)
            if taken:
                pick.leased_to, pick.lease_expires_at = user, expires
                return pick
    raise Conflict("too many experts at once; try again")


@dataclass(frozen=True)
class ReviewResult:
    candidate: Candidate
    review: Review
    replayed: bool  # the same decision was already recorded (a client retry)


def _lines(text: str | None) -> str | None:
    """Browsers send CRLF line endings; stored text has LF only."""
    return None if text is None else text.replace("\r\n", "\n").replace("\r", "\n")


def _replay(
    review: Review, candidate: Candidate, reasons: list[str], edited: str | None, note: str
) -> ReviewResult:
    """A resend of the recorded decision is answered as such; the same decision with other
    reasons, another edit or another note is not that resend, and is refused, not dropped."""
    if sorted(review.reasons) != reasons or review.edited_response != edited or review.note != note:
        raise Conflict(
            f"candidate {candidate.pk} is already decided by you ({review.decision}) with other "
            "reasons, edit or note; nothing was changed"
        )
    return ReviewResult(candidate, review, replayed=True)


def candidate_review(
    *,
    user: User,
    candidate_id: int,
    decision: str,
    edited_response: str | None = None,
    reasons: list[str] | None = None,
    note: str = "",
    seconds_spent: float | None = None,
) -> ReviewResult:
    _require_reviewer(user)
    if decision not in Decision.values:
        raise InvalidInput(f"decision must be one of {', '.join(Decision.values)}, not {decision!r}")
    reasons = sorted({r.strip() for r in (reasons or []) if r and r.strip()})
    edited_response = _lines(edited_response) if decision == Decision.EDIT else None
    note = _lines(note or "").strip()
    if decision == Decision.EDIT and not (edited_response or "").strip():
        raise InvalidInput("an edit needs edited_response")
    if decision == Decision.REJECT and not (reasons or note):
        raise InvalidInput("say why you reject it: give a reason code or a note")
    now = timezone.now()
    with transaction.atomic():
        try:
            candidate = Candidate.objects.select_for_update().select_related("campaign").get(pk=candidate_id)
        except Candidate.DoesNotExist:
            raise NotFound(f"no candidate {candidate_id}") from None
        vocabulary = stored_config(candidate.campaign.config).review.reasons
        unknown = [r for r in reasons if r not in vocabulary]
        if unknown:
            raise InvalidInput(
                f"unknown reason {', '.join(map(repr, unknown))}: "
                f"this campaign's reasons are {', '.join(vocabulary)}"
            )
        if decision == Decision.SKIP and candidate.leased_to_id != user.pk:
            # A skip releases the lease, so its retry finds none; and a skipper is never offered
            # the candidate again, so a second skip without a lease can only be that retry.
            skipped = candidate.reviews.filter(reviewer=user, decision=Decision.SKIP).last()
            if skipped is not None:
                return _replay(skipped, candidate, reasons, edited_response, note)
        if candidate.status != CandidateStatus.IN_REVIEW:
            mine = candidate.reviews.filter(reviewer=user).exclude(decision=Decision.SKIP).first()
            if mine and mine.decision == decision:
                return _replay(mine, candidate, reasons, edited_response, note)
            raise Conflict(f"candidate {candidate_id} is already decided ({candidate.status})")
        # An expired lease still counts while nobody else has taken the candidate.
        if candidate.leased_to_id != user.pk:
            raise Conflict(f"candidate {candidate_id} is not leased to you (lease lost or never taken)")
        review = Review.objects.create(
            candidate=candidate,
            reviewer=user,
            decision=decision,
            edited_response=edited_response if decision == Decision.EDIT else None,
            reasons=reasons,
            note=note,
            seconds_spent=seconds_spent,
        )
        fields = {"leased_to": None, "lease_expires_at": None}
        if decision != Decision.SKIP:
            fields.update(status=OUTCOME[decision], decided_at=now)
            if decision == Decision.EDIT:
                fields["edited_response"] = edited_response
        changed = Candidate.objects.filter(
            pk=candidate.pk, status=CandidateStatus.IN_REVIEW, leased_to=user
        ).update(**fields)
        if not changed:  # cannot happen under the row lock; kept as the invariant's guard
            raise Conflict(f"candidate {candidate_id} changed while deciding")
        candidate.refresh_from_db()
        if decision != Decision.SKIP:
            learned_maybe_queue(campaign_id=candidate.campaign_id)
    return ReviewResult(candidate, review, replayed=False)
