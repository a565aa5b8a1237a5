"""The Argilla bridge (issue 10): a campaign's candidates in review are also reviewed in an
Argilla dataset, and the answers given there become Reviews under Assay's own rules.

Seats. A candidate needs `needed` decisions by distinct experts; `Candidate.holders` counts
the live leases, so the queue offers it while `decisions + holders < needed`. A pushed record
holds its seats as a count, `ArgillaRecord.seats`, added to `holders` in the same
transaction, under the candidate's row lock: one row per candidate instead of Assignment rows
held by a made-up Argilla user (Assignment is one per candidate and expert). A record takes
`min(free seats, review.per_item)`: Argilla offers a record until `min_submitted`
(= review.per_item) answers are submitted, so more seats could never be used; a candidate
that needs more (the `overlap` share) gets its other decisions on Assay's page, and they all
count together. While a record is leased no Django expert gets those seats.

An answer from Argilla, in one transaction under the candidate's row lock: one of the
record's seats becomes an Assignment for the Assay user the Argilla user maps to (created
as an expert when missing), then `candidate_review` records it exactly as the review page
would (rules, outcome, adjudication). An answer arriving when the record holds no seat
(its lease ended) takes a free seat if there is one, else it is refused. A refused answer
(a reject without a reason, an unknown user role, a decision changed after it was recorded)
is one error line on its record and in the summary; the other answers go on.

Leases. A record's lease lasts ARGILLA_LEASE_SECONDS and every successful sync renews it
while the record still holds seats; when the syncs fail that long (Argilla down), the sweeper
gives the seats back to the Django queue and the next sync removes the record from Argilla,
so nobody decides it twice. A record out of Argilla is never pushed again: from then on the
candidate belongs to Assay's own queue.

Discarded. A discarded answer is a skip by that user: it gives its seat back (the Django
queue then offers it; the user who discarded it is never offered it again). Argilla keeps a
record pending until `min_submitted` answers are submitted, discards not counted
(argilla#5757), so a record whose seats are all used while fewer answers were submitted than
that is removed from Argilla at once (its answers are already in Assay); a record answered
in full stays there as Argilla's history. An edit in Argilla is a Review with the edited
text: the candidate keeps its original.

Idempotent: the pull cursor is the largest response time seen (with an overlap, re-reading
the last minute), and an answer already recorded is a replay that changes nothing; pushing
upserts by id. A sync holds its campaign (`running_until`), so beat and the command never
run one at the same time.

Webhooks. With ASSAY_ARGILLA_WEBHOOK_URL set, a sync also makes sure the Argilla server posts
its response events there (Argilla's webhooks are server-wide; the server's secret is kept in
ArgillaWebhook), and webhooks.py answers each one by queueing a sync of the campaign whose
dataset was answered, at most one per few seconds: answers arrive in seconds instead of at
the next sweep, which still pulls whatever a lost webhook missed."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from curation.accounts.models import Role, User
from curation.campaigns.config import CampaignConfig, stored_config
from curation.campaigns.models import Campaign, Candidate, CandidateStatus
from curation.core.errors import AssayError, InvalidInput
from curation.core.queue import enqueue_on_commit
from curation.integrations.argilla import client
from curation.integrations.argilla.client import Answer, ArgillaError, DatasetSpec, Item, Target
from curation.integrations.argilla.models import (
    ArgillaRecord,
    ArgillaSync,
    ArgillaUser,
    ArgillaWebhook,
    RecordState,
)
from curation.review.assignments import candidate_locked, lease_until
from curation.review.models import Assignment, Decision
from curation.review.services import candidate_review
from curation.scoring.models import CriticScore, TextEmbedding
from workers.critics import build_panel
from workers.critics.embeddings import DIM, from_bytes

log = logging.getLogger(__name__)

TASK = "workers.argilla_sync"
PUSH_BATCH = 200  # records reserved and sent at once
PUSH_MAX = 2000  # records pushed by one sync; the next sync pushes more
CURSOR_OVERLAP = timedelta(minutes=1)  # responses committed late with an earlier timestamp
RUN_SECONDS = 600  # how long a sync holds its campaign at most
GUIDELINES_MAX = 10_000  # Argilla's limit
ERROR_LINES = 20  # refused answers listed in a summary


def lease_seconds() -> int:
    return settings.ASSAY["ARGILLA_LEASE_SECONDS"]


def argilla_target(*, campaign: Campaign, config: CampaignConfig | None = None) -> Target:
    """The campaign's Argilla dataset; InvalidInput when it has none or the key is missing."""
    config = config or stored_config(campaign.config)
    if config.argilla is None:
        raise InvalidInput(f"campaign {campaign.slug!r} has no argilla section in its config")
    key = settings.ASSAY["ARGILLA_API_KEY"]
    if not key:
        raise InvalidInput(
            f"campaign {campaign.slug!r}: Argilla at {config.argilla.url} needs an API key: "
            "set ASSAY_ARGILLA_API_KEY (or ASSAY_ARGILLA_API_KEY_FILE)"
        )
    return Target(
        url=config.argilla.url,
        api_key=key,
        workspace=config.argilla.workspace,
        dataset=config.argilla.dataset,
    )


def argilla_campaigns() -> list[Campaign]:
    """The campaigns with an `argilla` section."""
    return [c for c in Campaign.objects.order_by("pk") if (c.config or {}).get("argilla")]


# ---------------------------------------------------------------------------------------------
# The sync


def argilla_sync(*, campaign: Campaign) -> dict[str, Any]:
    """Push, pull and tidy one campaign's Argilla dataset; returns a summary. ArgillaError and
    a missing config or key are stored on the campaign's ArgillaSync (the page shows them)
    and raised; a success clears them. Idempotent: a second run changes nothing."""
    sync, _ = ArgillaSync.objects.get_or_create(campaign=campaign)
    config = stored_config(campaign.config)
    try:
        target = argilla_target(campaign=campaign, config=config)
    except InvalidInput as e:
        _failed(sync, str(e))
        raise
    now = timezone.now()
    claimed = (
        ArgillaSync.objects.filter(pk=sync.pk)
        .filter(Q(running_until__isnull=True) | Q(running_until__lt=now))
        .update(running_until=now + timedelta(seconds=RUN_SECONDS))
    )
    if not claimed:
        return {"campaign": campaign.slug, "skipped": "another sync of this campaign is running"}
    try:
        summary = _sync(sync, campaign, config, target)
    except ArgillaError as e:
        _failed(sync, str(e))
        raise
    finally:
        ArgillaSync.objects.filter(pk=sync.pk).update(running_until=None)
    ArgillaSync.objects.filter(pk=sync.pk).update(last_ok_at=timezone.now(), error="", error_at=None)
    return summary


def _failed(sync: ArgillaSync, error: str) -> None:
    line = " ".join(error.split())
    ArgillaSync.objects.filter(pk=sync.pk).update(error=line, error_at=timezone.now())


def _sync(sync: ArgillaSync, campaign: Campaign, config: CampaignConfig, target: Target) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "campaign": campaign.slug,
        "returned": argilla_leases_reap(campaign_id=campaign.pk),
        "pushed": 0,
        "answers": 0,
        "reviews": 0,
        "replayed": 0,
        "refused": [],
        "removed": 0,
        "renewed": 0,
    }
    spec = _spec(sync, campaign, config)
    dataset_id = client.dataset_ensure(target, spec)
    if dataset_id != sync.dataset_id:
        ArgillaSync.objects.filter(pk=sync.pk).update(dataset_id=dataset_id)
    summary["webhook"] = _webhook_ensure(target)

    # Pull first: removing a record deletes its answers in Argilla.
    since = sync.pulled_until - CURSOR_OVERLAP if sync.pulled_until else None
    answers = client.answers_pull(target, since=since.isoformat() if since else None)
    newest = sync.pulled_until
    users: dict[str, User] = {}
    for answer in sorted(answers, key=lambda a: (a.updated_at, a.record_id, a.username)):
        outcome = _answer_apply(campaign, config, answer, users)
        if outcome == "reviewed":
            summary["answers"] += 1
            summary["reviews"] += 1
        elif outcome == "replayed":
            summary["replayed"] += 1
        else:
            summary["answers"] += 1
            summary["refused"].append(outcome)
        stamp = datetime.fromisoformat(answer.updated_at)
        newest = stamp if newest is None or stamp > newest else newest
    ArgillaSync.objects.filter(pk=sync.pk).update(
        pulled_until=newest,
        pulled=F("pulled") + summary["reviews"],
        refused=F("refused") + len(summary["refused"]),
    )

    summary["removed"] = _remove(campaign, target)
    summary["pushed"] = _push(sync, campaign, config, spec, target)
    summary["renewed"] = ArgillaRecord.objects.filter(
        candidate__campaign=campaign, state=RecordState.LEASED, pushed_at__isnull=False
    ).update(lease_expires_at=timezone.now() + timedelta(seconds=lease_seconds()))
    summary["refused"] = summary["refused"][:ERROR_LINES]
    return summary


def _spec(sync: ArgillaSync, campaign: Campaign, config: CampaignConfig) -> DatasetSpec:
    if not sync.vector_decided:
        # Decided once: the dataset's vector size cannot change after its creation.
        stored = TextEmbedding.objects.filter(candidate__campaign=campaign).exists()
        sync.vector_dims, sync.vector_decided = (DIM if stored else None), True
        ArgillaSync.objects.filter(pk=sync.pk).update(vector_dims=sync.vector_dims, vector_decided=True)
    guidelines = config.review.guidelines
    if len(guidelines) > GUIDELINES_MAX:
        guidelines = guidelines[: GUIDELINES_MAX - 60] + "\n\n(cut short: the full guidelines are in Assay)"
    return DatasetSpec(
        guidelines=guidelines,
        reasons=dict(config.review.reasons),
        critics=_critic_names(config),
        vector_dims=sync.vector_dims,
        min_submitted=config.review.per_item,
        metadata_terms=sorted(config.diversity),
    )


def _critic_names(config: CampaignConfig) -> list[str]:
    names = [critic.name for critic in build_panel(config.critics)]
    names += [name for name, on in (("judge", config.judge), ("learned", config.learned)) if on]
    return names


def _webhook_ensure(target: Target) -> str:
    """With ASSAY_ARGILLA_WEBHOOK_URL set, make sure the Argilla server posts its response
    events there and keep the secret they are signed with (webhooks.py checks them). Returns
    "" or the failure's line: a failure (an admin's key: only an owner manages webhooks) is
    logged and kept on the ArgillaWebhook row, never failing the sync; the sweep still pulls."""
    url = settings.ASSAY["ARGILLA_WEBHOOK_URL"]
    if not url:
        return ""
    server = target.url.rstrip("/")
    try:
        secret = client.webhook_ensure(target, url)
    except ArgillaError as e:
        line = " ".join(str(e).split())
        log.warning("%s", line)
        if not ArgillaWebhook.objects.filter(server_url=server).update(error=line):
            ArgillaWebhook.objects.get_or_create(server_url=server, defaults={"url": url, "error": line})
        return line
    ArgillaWebhook.objects.update_or_create(
        server_url=server, defaults={"url": url, "secret": secret, "ensured_at": timezone.now(), "error": ""}
    )
    return ""


# ---------------------------------------------------------------------------------------------
# Answers


def _answer_apply(campaign: Campaign, config: CampaignConfig, answer: Answer, users: dict[str, User]) -> str:
    """Record one Argilla answer; returns "reviewed", "replayed" or the refusal's line."""
    where = f"record {answer.record_id} ({answer.username or answer.user_id})"
    record = None
    if answer.record_id.isdigit():
        record = (
            ArgillaRecord.objects.filter(candidate_id=int(answer.record_id), candidate__campaign=campaign)
            .only("pk")
            .first()
        )
    if record is None:
        return f"{where}: not a candidate Assay pushed to this dataset; ignored"
    try:
        user = users.get(answer.user_id) or _user_for(answer)
        users[answer.user_id] = user
        with transaction.atomic():
            replayed = _answer_record(answer, record.pk, user, config)
    except AssayError as e:
        line = f"{where}: {e}"
        # Re-read answers (the cursor's overlap) are refused again: counted once.
        again = ArgillaRecord.objects.filter(pk=record.pk, error=line).exists()
        ArgillaRecord.objects.filter(pk=record.pk).update(error=line)
        return "replayed" if again else line
    return "replayed" if replayed else "reviewed"


def _answer_record(answer: Answer, record_pk: int, user: User, config: CampaignConfig) -> bool:
    candidate = candidate_locked(int(answer.record_id))
    record = ArgillaRecord.objects.get(pk=record_pk)
    if answer.status == "discarded":
        decision, edited = Decision.SKIP, None
    elif answer.decision == Decision.ACCEPT and answer.edited_response is not None:
        decision, edited = Decision.EDIT, answer.edited_response
    else:
        decision, edited = answer.decision or "", answer.edited_response
    mine = list(candidate.reviews.filter(reviewer=user).values_list("decision", flat=True))
    counted = any(d != Decision.SKIP for d in mine)
    replay = counted or (decision == Decision.SKIP and bool(mine))
    held = Assignment.objects.filter(candidate=candidate, expert=user).exists()
    seated_from_record = False
    if not replay and not held:
        if record.state == RecordState.LEASED:
            seated_from_record = True  # the seat moves from Argilla to the user: holders unchanged
        elif candidate.status == CandidateStatus.IN_REVIEW and (
            candidate.decisions + candidate.holders < candidate.needed
        ):
            Candidate.objects.filter(pk=candidate.pk).update(holders=F("holders") + 1)
            candidate.holders += 1
        else:
            raise InvalidInput(
                "answered after Argilla's lease on it ended, and no review seat is free; not recorded"
            )
        Assignment.objects.create(candidate=candidate, expert=user, expires_at=lease_until())
    result = candidate_review(
        user=user,
        candidate_id=candidate.pk,
        decision=decision,
        edited_response=edited,
        reasons=answer.reasons,
        note=answer.note,
    )
    fields: dict[str, Any] = {"error": ""}
    if seated_from_record:
        fields["seats"] = record.seats - 1
    if not result.replayed and decision != Decision.SKIP:
        fields["submitted"] = record.submitted + 1
    if record.state == RecordState.LEASED and fields.get("seats", record.seats) == 0:
        full = fields.get("submitted", record.submitted) >= config.review.per_item
        fields.update(state=RecordState.DONE if full else RecordState.RETURNED, lease_expires_at=None)
    ArgillaRecord.objects.filter(pk=record.pk).update(**fields)
    return result.replayed


def _user_for(answer: Answer) -> User:
    """The Assay user an Argilla user's answers are recorded as: the one linked before, else
    the Assay user of the same username, else a new expert (no password: they review in
    Argilla). Argilla's users are trusted as Assay's admins trust them: whoever can create
    users in the workspace can answer as any username."""
    if not answer.user_id:
        raise InvalidInput("the answer names no Argilla user")
    link = ArgillaUser.objects.filter(argilla_id=answer.user_id).select_related("user").first()
    if link is not None:
        if answer.username and link.username != answer.username:
            ArgillaUser.objects.filter(pk=link.pk).update(username=answer.username)
        return link.user
    if not answer.username:
        raise InvalidInput(f"Argilla user {answer.user_id} has no username")
    with transaction.atomic():
        user = User.objects.filter(username=answer.username).first()
        if user is None:
            user = User(username=answer.username, role=Role.EXPERT)
            user.set_unusable_password()
            user.save()
        ArgillaUser.objects.get_or_create(
            argilla_id=answer.user_id, defaults={"username": answer.username, "user": user}
        )
    return user


# ---------------------------------------------------------------------------------------------
# Leases, removal and push


def argilla_leases_reap(*, campaign_id: int | None = None, now: datetime | None = None) -> int:
    """Give the seats of records whose Argilla lease ran out back to the Django queue; the
    next sync removes those records from Argilla. Returns how many records gave seats back."""
    now = now or timezone.now()
    expired = ArgillaRecord.objects.filter(state=RecordState.LEASED, lease_expires_at__lt=now)
    if campaign_id is not None:
        expired = expired.filter(candidate__campaign_id=campaign_id)
    n = 0
    for pk, candidate_id in list(expired.values_list("pk", "candidate_id").order_by("pk")):
        with transaction.atomic():
            Candidate.objects.select_for_update().filter(pk=candidate_id).first()
            record = expired.filter(pk=pk).first()
            if record is None:  # renewed or answered meanwhile
                continue
            _return_seats(record)
            n += 1
    return n


def _return_seats(record: ArgillaRecord) -> None:
    """The caller holds the candidate's row lock."""
    Candidate.objects.filter(pk=record.candidate_id).update(holders=F("holders") - record.seats)
    ArgillaRecord.objects.filter(pk=record.pk).update(
        state=RecordState.RETURNED, seats=0, lease_expires_at=None
    )


def _remove(campaign: Campaign, target: Target) -> int:
    """Remove from Argilla the records that gave their seats back."""
    ids = list(
        ArgillaRecord.objects.filter(candidate__campaign=campaign, state=RecordState.RETURNED)
        .order_by("pk")
        .values_list("candidate_id", flat=True)
    )
    if not ids:
        return 0
    client.records_remove(target, [str(i) for i in ids])
    ArgillaRecord.objects.filter(candidate_id__in=ids, state=RecordState.RETURNED).update(
        state=RecordState.REMOVED, removed_at=timezone.now()
    )
    return len(ids)


def _push(
    sync: ArgillaSync, campaign: Campaign, config: CampaignConfig, spec: DatasetSpec, target: Target
) -> int:
    """Lease the free seats of candidates in review never pushed, then send every record
    reserved and not yet sent (a failed push is sent again by the next sync)."""
    reserved = 0
    while reserved < PUSH_MAX:
        fresh = _reserve(campaign, config.review.per_item, min(PUSH_BATCH, PUSH_MAX - reserved))
        if not fresh:
            break
        reserved += fresh
    pushed = 0
    unsent = ArgillaRecord.objects.filter(
        candidate__campaign=campaign, state=RecordState.LEASED, pushed_at__isnull=True
    ).order_by("pk")
    while batch := list(unsent.values_list("candidate_id", flat=True)[:PUSH_BATCH]):
        client.records_push(target, spec, _items(batch, spec))
        done = ArgillaRecord.objects.filter(candidate_id__in=batch, pushed_at__isnull=True).update(
            pushed_at=timezone.now()
        )
        ArgillaSync.objects.filter(pk=sync.pk).update(pushed=F("pushed") + done)
        pushed += len(batch)
    return pushed


def _reserve(campaign: Campaign, per_item: int, limit: int) -> int:
    """Lease up to `limit` candidates to Argilla, best first: each takes its free seats, at
    most per_item (Argilla's min_submitted). Returns how many."""
    candidates = (
        Candidate.objects.filter(campaign=campaign, status=CandidateStatus.IN_REVIEW)
        .filter(decisions__lt=F("needed") - F("holders"))
        .filter(argilla_record__isnull=True)
        .order_by("-priority", "id")
        .values_list("pk", flat=True)[:limit]
    )
    expires = timezone.now() + timedelta(seconds=lease_seconds())
    n = 0
    for candidate_id in list(candidates):
        with transaction.atomic():
            candidate = Candidate.objects.select_for_update().filter(pk=candidate_id).first()
            if candidate is None or candidate.status != CandidateStatus.IN_REVIEW:
                continue
            free = candidate.needed - candidate.decisions - candidate.holders
            if free <= 0 or ArgillaRecord.objects.filter(candidate_id=candidate_id).exists():
                continue
            seats = min(free, per_item)
            Candidate.objects.filter(pk=candidate_id).update(holders=F("holders") + seats)
            ArgillaRecord.objects.create(
                candidate_id=candidate_id, state=RecordState.LEASED, seats=seats, lease_expires_at=expires
            )
            n += 1
    return n


def _items(candidate_ids: list[int], spec: DatasetSpec) -> list[Item]:
    scores: dict[int, dict[str, float | None]] = defaultdict(dict)
    rows = (
        CriticScore.objects.filter(candidate_id__in=candidate_ids, critic__in=spec.critics)
        .order_by("pk")
        .values_list("candidate_id", "critic", "score")
    )
    for candidate_id, critic, score in rows:
        scores[candidate_id][critic] = score  # the latest version wins
    vectors: dict[int, list[float]] = {}
    if spec.vector_dims:
        for candidate_id, raw in TextEmbedding.objects.filter(candidate_id__in=candidate_ids).values_list(
            "candidate_id", "vector"
        ):
            vectors[candidate_id] = [float(x) for x in from_bytes(bytes(raw))]
    items = []
    rows = Candidate.objects.filter(pk__in=candidate_ids).order_by("pk")
    for c in rows.only("pk", "prompt", "response", "metadata"):
        terms = (c.metadata or {}).items()
        metadata = {k: str(v) for k, v in terms if k in spec.metadata_terms and v is not None}
        items.append(
            Item(
                id=str(c.pk),
                prompt=c.prompt,
                response=c.response,
                critics=scores.get(c.pk, {}),
                metadata=metadata,
                vector=vectors.get(c.pk),
            )
        )
    return items


# ---------------------------------------------------------------------------------------------
# Periodic


def argilla_sweep() -> dict[str, int]:
    """The sweeper's step: give back the seats of expired Argilla leases, and queue a sync of
    every campaign with an `argilla` section that has something to push or pull."""
    returned = argilla_leases_reap()
    queued = 0
    for campaign in argilla_campaigns():
        busy = Candidate.objects.filter(campaign=campaign, status=CandidateStatus.IN_REVIEW).exists()
        if (
            busy
            or ArgillaRecord.objects.filter(
                candidate__campaign=campaign, state__in=[RecordState.LEASED, RecordState.RETURNED]
            ).exists()
        ):
            enqueue_on_commit(TASK, campaign.pk)
            queued += 1
    return {"returned": returned, "queued": queued}


def argilla_sync_id(*, campaign_id: int) -> dict[str, Any] | None:
    """The task's entry: the campaign by id (None when it is gone)."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    return argilla_sync(campaign=campaign) if campaign is not None else None
