"""Argilla's webhooks (issue 10): an answer given in Argilla queues its campaign's sync at once.

Argilla 2.8 posts its events as Standard Webhooks (standardwebhooks.com): headers
`webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature`, a space-separated
list of `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed by the base64-decoded
secret (a `whsec_` prefix dropped); the body is `{"type", "version", "timestamp", "data"}`.
Argilla's webhooks are server-wide, so one secret per Argilla server (ArgillaWebhook, kept by
the sync, services.py) verifies them all; the one that matches says which server sent it.

A request is refused when its headers or body are malformed (400), when its timestamp is more
than TOLERANCE off (401: a replay or a wrong clock) or when no secret known signs it (401).
A verified response event (`response.created|updated|deleted`, `data.record.dataset.id`)
queues a sync of each campaign of that server whose dataset it names; any other event, or a
dataset no campaign has, is accepted and ignored. Nothing is synced in the request.

Throttled: a burst of answers is a burst of events, so a campaign queues at most one sync per
THROTTLE_SECONDS (a conditional update of ArgillaSync.webhook_queued_at), and that sync runs
THROTTLE_SECONDS later, after the events it stands for: every answer is pulled by a sync that
starts after its event arrived. A sync queued while another runs returns at once; the sweep
still pulls what that missed, and what a lost webhook missed. A replayed request within the
tolerance only queues an idempotent sync."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from curation.campaigns.config import stored_config
from curation.core.errors import AssayError
from curation.core.queue import enqueue_on_commit
from curation.integrations.argilla.models import ArgillaSync, ArgillaWebhook
from curation.integrations.argilla.services import TASK

TOLERANCE = timedelta(minutes=5)
THROTTLE_SECONDS = 5
_SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


class WebhookRefused(AssayError):
    """A request that is not a webhook Assay accepts; `status` is the HTTP answer."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Received:
    """What a verified event did: its type, and the campaigns (slugs) whose dataset it names
    and of those the ones it queued a sync of (the others were queued less than
    THROTTLE_SECONDS ago)."""

    type: str
    campaigns: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"type": self.type, "campaigns": self.campaigns, "queued": self.queued}


def argilla_webhook_receive(*, body: bytes, headers: Mapping[str, str], now: float | None = None) -> Received:
    """Verify one request from Argilla and act on it; WebhookRefused when it is refused.
    `headers` are looked up by lower-case name."""
    if not settings.ASSAY["ARGILLA_WEBHOOK_URL"]:
        raise WebhookRefused(
            "Argilla's webhooks are off here: ASSAY_ARGILLA_WEBHOOK_URL is not set", status=404
        )
    hook = _verified(body, headers, time.time() if now is None else now)
    try:
        event = json.loads(body)
    except (UnicodeDecodeError, ValueError) as e:
        raise WebhookRefused(f"the body is not JSON: {e}", status=400) from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise WebhookRefused("the body is not a webhook event: no `type`", status=400)
    ArgillaWebhook.objects.filter(pk=hook.pk).update(received=F("received") + 1, received_at=timezone.now())
    kind = event["type"]
    if not kind.startswith("response."):
        return Received(type=kind)
    data = event.get("data")
    record = data.get("record") if isinstance(data, dict) else None
    dataset = record.get("dataset") if isinstance(record, dict) else None
    dataset_id = dataset.get("id") if isinstance(dataset, dict) else None
    if not isinstance(dataset_id, str) or not dataset_id:
        raise WebhookRefused(f"a {kind} event without data.record.dataset.id", status=400)
    return _queue(kind, hook, dataset_id)


def _verified(body: bytes, headers: Mapping[str, str], now: float) -> ArgillaWebhook:
    msg_id = headers.get("webhook-id", "")
    stamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    missing = [
        name for name, value in (("id", msg_id), ("timestamp", stamp), ("signature", signatures)) if not value
    ]
    if missing:
        raise WebhookRefused(
            f"not a Standard Webhooks request: no webhook-{', webhook-'.join(missing)} header", status=400
        )
    try:
        sent = int(stamp)
    except ValueError:
        raise WebhookRefused(f"webhook-timestamp {stamp[:40]!r} is not Unix seconds", status=400) from None
    given = []
    for part in signatures.split():
        version, _, signature = part.partition(",")
        if version != "v1":
            continue  # another scheme (v1a: asymmetric): not Argilla's
        try:
            given.append(base64.b64decode(signature, validate=True))
        except (binascii.Error, ValueError):
            raise WebhookRefused(
                "webhook-signature holds a v1 signature that is not base64", status=400
            ) from None
    if not given:
        raise WebhookRefused("webhook-signature holds no v1 signature", status=400)
    if abs(now - sent) > TOLERANCE.total_seconds():
        raise WebhookRefused(
            f"webhook-timestamp is {abs(now - sent):.0f}s off this server's clock (at most "
            f"{TOLERANCE.total_seconds():.0f}s): a replay or a wrong clock",
            status=401,
        )
    signed = f"{msg_id}.{stamp}.".encode() + body
    for hook in ArgillaWebhook.objects.exclude(secret="").order_by("pk"):
        key = _key(hook.secret)
        if key is None:
            continue
        expected = hmac.new(key, signed, hashlib.sha256).digest()
        # Every candidate compared, in constant time each.
        if any(hmac.compare_digest(expected, signature) for signature in given):
            return hook
    raise WebhookRefused("the signature matches no Argilla webhook Assay keeps", status=401)


def _key(secret: str) -> bytes | None:
    text = secret.removeprefix(_SECRET_PREFIX)
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4)) or None
    except (binascii.Error, ValueError):
        return None


def _queue(kind: str, hook: ArgillaWebhook, dataset_id: str) -> Received:
    received = Received(type=kind)
    syncs = ArgillaSync.objects.filter(dataset_id=dataset_id).select_related("campaign").order_by("pk")
    for sync in syncs:
        argilla = stored_config(sync.campaign.config).argilla
        if argilla is None or argilla.url.rstrip("/") != hook.server_url:
            continue  # a dataset of the same id on another server
        received.campaigns.append(sync.campaign.slug)
        ArgillaSync.objects.filter(pk=sync.pk).update(webhook_events=F("webhook_events") + 1)
        now = timezone.now()
        claimed = (
            ArgillaSync.objects.filter(pk=sync.pk)
            .filter(
                Q(webhook_queued_at__isnull=True)
                | Q(webhook_queued_at__lte=now - timedelta(seconds=THROTTLE_SECONDS))
            )
            .update(webhook_queued_at=now)
        )
        if claimed:
            enqueue_on_commit(TASK, sync.campaign_id, countdown=THROTTLE_SECONDS)
            received.queued.append(sync.campaign.slug)
    return received
