"""Leasing candidates to experts: one Assignment row per (candidate, expert), so several
experts can hold one candidate at once when the campaign asks for more than one decision
(review.per_item, overlap), and no expert is offered the same candidate twice.

The candidate row keeps the counts the queue filters on (`decisions`, `holders`,
`needed`), changed only under that row's lock, so the queue query stays one index scan
and two experts can never take the last seat (label-studio#795)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from curation.accounts.models import User
from curation.campaigns.models import Campaign, Candidate, CandidateStatus
from curation.core.errors import Conflict, Forbidden, NotFound
from curation.review.models import Assignment, Review

REAP_CHUNK = 500


def lease_seconds() -> int:
    return settings.ASSAY["LEASE_SECONDS"]


def lease_until():
    return timezone.now() + timedelta(seconds=lease_seconds())


def require_reviewer(user: User) -> None:
    if not user.can_review():
        raise Forbidden(f"{user.username} is a {user.role}: only experts and admins review")


def require_member(user: User, campaign: Campaign, candidate_id: int | None = None) -> None:
    """An expert outside a members-only campaign learns nothing of it: the same 404 as a
    campaign (or, asked by candidate id, a candidate) that does not exist."""
    if not campaign.admits(user):
        raise NotFound(
            f"no candidate {candidate_id}" if candidate_id is not None else f"no campaign {campaign.slug!r}"
        )


def assignment_held(*, user: User, campaign: Campaign) -> Assignment | None:
    """The lease this expert holds in the campaign (the oldest, should there be several)."""
    return (
        Assignment.objects.filter(expert=user, candidate__campaign=campaign)
        .select_related("candidate")
        .order_by("started_at", "pk")
        .first()
    )


def queue(*, user: User, campaign: Campaign):
    """The candidates this expert may take, best first: in review, a seat left, never
    decided or skipped by them. Ordered by triage priority (the learned critic's
    uncertainty once it is trained)."""
    mine = Review.objects.filter(candidate=OuterRef("pk"), reviewer=user)
    return (
        Candidate.objects.filter(campaign=campaign, status=CandidateStatus.IN_REVIEW)
        .filter(decisions__lt=F("needed") - F("holders"))
        .exclude(Exists(mine))
        .order_by("-priority", "id")
    )


def candidate_lease_next(*, user: User, campaign: Campaign) -> Candidate | None:
    """The candidate this expert should review next, leased to them; None when none is left.
    Asking again while holding a lease returns the same candidate with its lease renewed."""
    require_reviewer(user)
    require_member(user, campaign)
    expires = lease_until()
    # Most calls hold nothing: look for a lease by its ids alone (the page's
    # assignment_held reads the candidate with it), and read the candidate only when renewed.
    held = (
        Assignment.objects.filter(expert=user, candidate__campaign=campaign)
        .order_by("started_at", "pk")
        .values_list("pk", "candidate_id")
        .first()
    )
    if held and Assignment.objects.filter(pk=held[0]).update(expires_at=expires):
        candidate = Candidate.objects.filter(pk=held[1]).first()
        if candidate is not None:
            return _leased(candidate, expires)
    pick = _take(user, campaign, expires)
    if pick is None and assignments_reap(campaign_id=campaign.pk):
        pick = _take(user, campaign, expires)  # seats freed by abandoned leases
    return pick


def _leased(candidate: Candidate, expires) -> Candidate:
    candidate.lease_expires_at = expires  # what the page and the API show
    return candidate


def _take(user: User, campaign: Campaign, expires) -> Candidate | None:
    free = queue(user=user, campaign=campaign)
    skip_locked = connection.features.has_select_for_update_skip_locked
    for _ in range(20):
        with transaction.atomic():
            # PostgreSQL: each expert skips rows another is taking. SQLite: the IMMEDIATE
            # transaction already serializes writers, so the conditional update suffices.
            pick = (free.select_for_update(skip_locked=True, of=("self",)) if skip_locked else free).first()
            if pick is None:
                return None
            seated = Candidate.objects.filter(
                pk=pick.pk, status=CandidateStatus.IN_REVIEW, decisions__lt=F("needed") - F("holders")
            ).update(holders=F("holders") + 1)
            if seated:
                if connection.vendor == "postgresql":
                    _commit_without_flush()
                Assignment.objects.create(candidate=pick, expert=user, expires_at=expires)
                pick.holders += 1
                return _leased(pick, expires)
    raise Conflict("too many experts at once; try again")


def _commit_without_flush() -> None:
    """PostgreSQL: this transaction's commit does not wait for its WAL to reach the disk
    (most of a `next`'s wait, and all of its tail when the disk is busy). It stays atomic;
    a database crash in the next fraction of a second may forget it, and a lease may be
    forgotten: it is temporary by nature, its seat count goes with it, and the expert's
    submit then gets the lost-lease answer (409) every client handles. Decisions keep
    the flushed commit."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def assignment_drop(candidate: Candidate, user: User) -> bool:
    """Remove this expert's lease on a candidate whose row the caller has locked."""
    gone, _ = Assignment.objects.filter(candidate=candidate, expert=user).delete()
    if gone:
        Candidate.objects.filter(pk=candidate.pk).update(holders=F("holders") - 1)
        candidate.holders -= 1
    return bool(gone)


def candidate_release(*, user: User, candidate_id: int) -> bool:
    """The expert gives a leased candidate back undecided (they may be offered it again).
    Returns whether they held it; releasing twice is not an error."""
    require_reviewer(user)
    with transaction.atomic():
        candidate = candidate_locked(candidate_id)
        require_member(user, candidate.campaign, candidate_id)
        return assignment_drop(candidate, user)


def candidate_locked(candidate_id: int) -> Candidate:
    try:
        return (
            Candidate.objects.select_for_update(of=("self",)).select_related("campaign").get(pk=candidate_id)
        )
    except Candidate.DoesNotExist:
        raise NotFound(f"no candidate {candidate_id}") from None


def assignments_reap(*, campaign_id: int | None = None, now=None) -> int:
    """Return abandoned leases (expired, the expert gone) to the queue; the sweeper runs it
    periodically, and an expert who finds the queue empty runs it for their campaign.
    Returns how many were returned."""
    now = now or timezone.now()
    expired = Assignment.objects.filter(expires_at__lt=now)
    if campaign_id is not None:
        expired = expired.filter(candidate__campaign_id=campaign_id)
    n = 0
    while chunk := list(expired.values_list("pk", "candidate_id").order_by("pk")[:REAP_CHUNK]):
        for pk, candidate_id in chunk:
            with transaction.atomic():
                Candidate.objects.select_for_update().filter(pk=candidate_id).first()
                gone, _ = Assignment.objects.filter(pk=pk, expires_at__lt=now).delete()
                if gone:  # not renewed or decided meanwhile
                    Candidate.objects.filter(pk=candidate_id).update(holders=F("holders") - 1)
                    n += 1
        expired = expired.filter(pk__gt=chunk[-1][0])
    return n


def holders_count(*, campaign: Campaign) -> dict[str, int]:
    """Items under a live lease and how many experts hold them (the page says why the
    queue may look empty; with per_item above 1 several experts hold one item)."""
    now = timezone.now()
    live = Assignment.objects.filter(candidate__campaign=campaign, expires_at__gt=now)
    return {
        "leases": live.values("candidate").distinct().count(),
        "experts": live.values("expert").distinct().count(),
    }


def assignment_renew(*, user: User, candidate_id: int):
    """The review page's heartbeat: an expert still working on an item keeps its lease.
    Returns the new expiry, or None when the lease is gone (decided, released, reaped)."""
    expires = lease_until()
    held = Assignment.objects.filter(candidate_id=candidate_id, expert=user)
    return expires if held.update(expires_at=expires) else None
