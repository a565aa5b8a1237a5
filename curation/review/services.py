"""Recording experts' decisions, undoing one, and an admin's adjudication.

One rule set for the page and the API. A candidate is decided when it has the decisions
its policy needs (review.per_item, overlap) from distinct experts: agreeing decisions
decide it, disagreeing ones (two different edits included) send it to `in_adjudication`.
A decision sent again after a network failure is answered, not lost or doubled
(label-studio#6675)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from curation.accounts.models import User
from curation.campaigns.config import stored_config
from curation.campaigns.models import Candidate, CandidateStatus
from curation.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from curation.review.assignments import (
    candidate_locked,
    candidate_release,
    lease_until,
    require_member,
    require_reviewer,
)
from curation.review.models import Adjudication, Assignment, Decision, Review
from curation.scoring.learning import learned_maybe_queue
from workers.critics.text import edit_distance

OUTCOME = {
    Decision.ACCEPT: CandidateStatus.APPROVED,
    Decision.EDIT: CandidateStatus.APPROVED,
    Decision.REJECT: CandidateStatus.REJECTED,
}
DECIDED = (CandidateStatus.APPROVED, CandidateStatus.REJECTED, CandidateStatus.IN_ADJUDICATION)


@dataclass(frozen=True)
class ReviewResult:
    candidate: Candidate
    review: Review
    replayed: bool  # the same decision was already recorded (a client retry)


@dataclass(frozen=True)
class Verdict:
    """What one person decided, cleaned and checked against the campaign's vocabulary."""

    decision: str
    reasons: list[str]
    edited_response: str | None
    edited_prompt: str | None
    note: str

    def same_as(self, row: Review | Adjudication) -> bool:
        return (
            row.decision == self.decision
            and sorted(row.reasons) == self.reasons
            and row.edited_response == self.edited_response
            and row.edited_prompt == self.edited_prompt
            and row.note == self.note
        )


def _lines(text: str | None) -> str | None:
    """Browsers send CRLF line endings; stored text has LF only."""
    return None if text is None else text.replace("\r\n", "\n").replace("\r", "\n")


def _verdict(
    candidate: Candidate,
    decision: str,
    reasons: list[str] | None,
    edited_response: str | None,
    edited_prompt: str | None,
    note: str,
    allowed: tuple[str, ...] = tuple(Decision.values),
) -> Verdict:
    if decision not in allowed:
        raise InvalidInput(f"decision must be one of {', '.join(allowed)}, not {decision!r}")
    reasons = sorted({r.strip() for r in (reasons or []) if r and r.strip()})
    note = (_lines(note) or "").strip()
    response = prompt = None
    if decision == Decision.EDIT:
        response, prompt = _lines(edited_response), _lines(edited_prompt)
        # An unchanged field is not an edit of it: the original stays the only text.
        response = None if response is None or response == candidate.response else response
        prompt = None if prompt is None or prompt == candidate.prompt else prompt
        if not (response or "").strip() and not (prompt or "").strip():
            raise InvalidInput("an edit needs edited_response or edited_prompt with changed text")
        if (response is not None and not response.strip()) or (prompt is not None and not prompt.strip()):
            raise InvalidInput("an edit cannot empty the prompt or the response")
    if decision == Decision.REJECT and not (reasons or note):
        raise InvalidInput("say why you reject it: give a reason code or a note")
    if reasons and decision != Decision.REJECT:
        raise InvalidInput(f"reasons are for rejections; a {decision} carries none (a note may)")
    if decision != Decision.EDIT and (edited_response is not None or edited_prompt is not None):
        raise InvalidInput(f"edited text needs the decision edit, not {decision}")
    vocabulary = stored_config(candidate.campaign.config).review.reasons
    unknown = [r for r in reasons if r not in vocabulary]
    if unknown:
        raise InvalidInput(
            f"unknown reason {', '.join(map(repr, unknown))}: "
            f"this campaign's reasons are {', '.join(vocabulary)}"
        )
    return Verdict(decision, reasons, response, prompt, note)


def _refuse_changed(row: Review | Adjudication, verdict: Verdict, candidate: Candidate) -> None:
    """A resend of the recorded decision is answered as such; the same decision with other
    reasons, another edit or another note is not that resend, and is refused, not dropped."""
    if not verdict.same_as(row):
        raise Conflict(
            f"candidate {candidate.pk} is already decided ({row.decision}) with other "
            "reasons, edit or note; nothing was changed"
        )


def candidate_review(
    *,
    user: User,
    candidate_id: int,
    decision: str,
    edited_response: str | None = None,
    edited_prompt: str | None = None,
    reasons: list[str] | None = None,
    note: str = "",
    seconds_spent: float | None = None,
) -> ReviewResult:
    require_reviewer(user)
    if seconds_spent is not None and not 0 <= seconds_spent < 86400:
        raise InvalidInput("seconds_spent must be between 0 and 86400")
    with transaction.atomic():
        candidate = candidate_locked(candidate_id)
        require_member(user, candidate.campaign, candidate_id)
        verdict = _verdict(candidate, decision, reasons, edited_response, edited_prompt, note)
        mine = list(candidate.reviews.filter(reviewer=user).order_by("-pk"))
        counted = next((r for r in mine if r.decision != Decision.SKIP), None)
        if counted is not None:
            if counted.decision != verdict.decision:
                raise Conflict(f"candidate {candidate_id} is already decided by you ({counted.decision})")
            _refuse_changed(counted, verdict, candidate)
            return ReviewResult(candidate, counted, replayed=True)
        # The lease ends with this decision: taken now, in one statement with the check
        # that it was held; a refusal below rolls the transaction, and the lease, back.
        held, _ = Assignment.objects.filter(candidate=candidate, expert=user).delete()
        if not held and verdict.decision == Decision.SKIP and mine:
            # A skip releases the lease and the skipper is never offered the candidate
            # again, so a second skip without a lease can only be that retry.
            _refuse_changed(mine[0], verdict, candidate)
            return ReviewResult(candidate, mine[0], replayed=True)
        if candidate.status != CandidateStatus.IN_REVIEW:
            raise Conflict(f"candidate {candidate_id} is already decided ({candidate.status})")
        if not held:  # an expired lease still counts until the reaper returns it
            raise Conflict(f"candidate {candidate_id} is not leased to you (lease lost or never taken)")
        review = Review.objects.create(
            candidate=candidate,
            reviewer=user,
            decision=verdict.decision,
            edited_response=verdict.edited_response,
            edited_prompt=verdict.edited_prompt,
            reasons=verdict.reasons,
            note=verdict.note,
            seconds_spent=seconds_spent,
            edit_distance=edit_distance(
                (candidate.prompt, candidate.response), (verdict.edited_prompt, verdict.edited_response)
            ),
        )
        fields = {"holders": candidate.holders - 1}
        if verdict.decision != Decision.SKIP:
            fields["decisions"] = candidate.decisions + 1
            if fields["decisions"] >= candidate.needed:
                fields.update(_outcome(candidate, review))
        # One write of the row we hold locked; the instance is brought up to date by hand.
        Candidate.objects.filter(pk=candidate.pk).update(**fields)
        for name, value in fields.items():
            setattr(candidate, name, value)
        if candidate.status in (CandidateStatus.APPROVED, CandidateStatus.REJECTED):
            # The learned critic trains on outcomes: only a decision that decides counts.
            learned_maybe_queue(
                campaign_id=candidate.campaign_id, config=stored_config(candidate.campaign.config)
            )
    return ReviewResult(candidate, review, replayed=False)


def _outcome(candidate: Candidate, review: Review) -> dict:
    """The candidate's fields once its decisions are in (`review` the last, just written):
    what they agree on, or adjudication."""
    if candidate.decisions == 0:  # the count before this one: it is the only decision
        decisions = [review]
    else:
        decisions = list(candidate.reviews.exclude(decision=Decision.SKIP).order_by("pk"))
    keys = {(d.decision, d.edited_response, d.edited_prompt) for d in decisions}
    if len(keys) > 1:
        return {"status": CandidateStatus.IN_ADJUDICATION}
    return _applied(decisions[0], sorted({r for d in decisions for r in d.reasons}))


def _applied(row: Review | Adjudication, reasons: list[str]) -> dict:
    return {
        "status": OUTCOME[row.decision],
        "decided_at": timezone.now(),
        "edited_response": row.edited_response,
        "edited_prompt": row.edited_prompt,
        "reasons": reasons if row.decision == Decision.REJECT else [],
    }


def review_undo(*, user: User, candidate_id: int) -> Candidate:
    """Take back this expert's decision (or skip) on a candidate while others have not
    built on it: the candidate is still in review, or this decision was its last one and
    no admin has adjudicated it. The expert holds the candidate again, to decide anew."""
    require_reviewer(user)
    with transaction.atomic():
        candidate = candidate_locked(candidate_id)
        require_member(user, candidate.campaign, candidate_id)
        review = candidate.reviews.filter(reviewer=user).order_by("-pk").first()
        if review is None:
            raise Conflict(f"you have no decision on candidate {candidate_id} to undo")
        if candidate.status != CandidateStatus.IN_REVIEW:
            last = candidate.reviews.exclude(decision=Decision.SKIP).order_by("-pk").first()
            if (
                candidate.status not in DECIDED
                or last != review
                or Adjudication.objects.filter(candidate=candidate).exists()
            ):
                raise Conflict(f"candidate {candidate_id} is decided by others; it can no longer be undone")
        fields = {"holders": candidate.holders + 1}
        if review.decision != Decision.SKIP:
            fields.update(
                decisions=candidate.decisions - 1,
                status=CandidateStatus.IN_REVIEW,
                decided_at=None,
                edited_response=None,
                edited_prompt=None,
                reasons=[],
            )
        review.delete()
        Candidate.objects.filter(pk=candidate.pk).update(**fields)
        Assignment.objects.create(candidate=candidate, expert=user, expires_at=lease_until())
        candidate.refresh_from_db()
    # The expert holds this one again, and only this one: a lease taken on the next item
    # since goes back (one row lock at a time), so "next" shows the undone item.
    others = Assignment.objects.filter(expert=user, candidate__campaign=candidate.campaign_id)
    for candidate_id in others.exclude(candidate=candidate).values_list("candidate_id", flat=True):
        candidate_release(user=user, candidate_id=candidate_id)
    return candidate


def review_undo_last(*, user: User, campaign) -> Candidate:
    """Undo this expert's most recent decision in the campaign (the page's Undo)."""
    last = Review.objects.filter(reviewer=user, candidate__campaign=campaign).order_by("-pk").first()
    if last is None:
        raise Conflict("you have made no decision in this campaign yet")
    return review_undo(user=user, candidate_id=last.candidate_id)


def candidate_adjudicate(
    *,
    user: User,
    candidate_id: int,
    decision: str,
    edited_response: str | None = None,
    edited_prompt: str | None = None,
    reasons: list[str] | None = None,
    note: str = "",
) -> tuple[Candidate, bool]:
    """An admin decides a candidate its experts disagreed on. Returns (candidate, replayed)."""
    if not user.is_admin_role:
        raise Forbidden(f"{user.username} is a {user.role}: only admins adjudicate")
    allowed = (Decision.ACCEPT, Decision.REJECT, Decision.EDIT)
    with transaction.atomic():
        candidate = candidate_locked(candidate_id)
        verdict = _verdict(candidate, decision, reasons, edited_response, edited_prompt, note, allowed)
        done = Adjudication.objects.filter(candidate=candidate).first()
        if done is not None:
            _refuse_changed(done, verdict, candidate)
            return candidate, True
        if candidate.status != CandidateStatus.IN_ADJUDICATION:
            raise Conflict(f"candidate {candidate_id} is {candidate.status}, not in_adjudication")
        row = Adjudication.objects.create(
            candidate=candidate,
            by=user,
            decision=verdict.decision,
            edited_response=verdict.edited_response,
            edited_prompt=verdict.edited_prompt,
            reasons=verdict.reasons,
            note=verdict.note,
        )
        Candidate.objects.filter(pk=candidate.pk, status=CandidateStatus.IN_ADJUDICATION).update(
            **_applied(row, verdict.reasons)
        )
        candidate.refresh_from_db()
    learned_maybe_queue(campaign_id=candidate.campaign_id)
    return candidate, False


def candidate_get_for_reviewer(*, user: User, candidate_id: int) -> Candidate:
    try:
        candidate = Candidate.objects.select_related("campaign").get(pk=candidate_id)
    except Candidate.DoesNotExist:
        raise NotFound(f"no candidate {candidate_id}") from None
    require_member(user, candidate.campaign, candidate_id)
    return candidate
