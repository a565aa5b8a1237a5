"""Argilla's webhooks: the endpoint checks Standard Webhooks signatures and queues a throttled
sync of the campaign whose dataset was answered; a sync keeps the webhook on the Argilla
server. The first tests sign requests by hand; the last ones have the real Argilla 2.8.0 test
server post to Django's live server."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta
from io import StringIO

import httpx
import pytest
from django.utils import timezone

from curation.campaigns.models import CandidateStatus
from curation.integrations.argilla.client import WEBHOOK_EVENTS, Target, webhook_ensure
from curation.integrations.argilla.models import ArgillaSync, ArgillaWebhook
from curation.integrations.argilla.services import TASK, argilla_sync, argilla_target
from curation.integrations.argilla.webhooks import THROTTLE_SECONDS
from curation.review.models import Review
from tests.support.argilla.annotators import Annotator

PATH = "/integrations/argilla/webhook"
SERVER = "http://argilla.test:6900"
SECRET = base64.b64encode(b"assay-test-webhook-secret-32byte").decode()  # as Argilla makes them
DATASET = "0b5e7a42-3c1d-4f7e-9a55-6f2f0e9d1c11"
WORKSPACE = "assay-hooks"


def _configure(campaign, url: str, dataset: str):
    config = dict(campaign.config)
    config["argilla"] = {"url": url, "workspace": WORKSPACE, "dataset": dataset}
    config["review"] = {**config.get("review", {}), "per_item": 1}
    campaign.config = config
    campaign.save(update_fields=["config"])
    campaign.candidates.update(needed=1)
    return campaign


def _event(kind: str = "response.created", dataset_id: str = DATASET) -> bytes:
    data = {"id": "r-1", "status": "submitted", "record": {"id": "x", "dataset": {"id": dataset_id}}}
    return json.dumps(
        {"type": kind, "version": 1, "timestamp": "2026-12-02T16:00:00.000000Z", "data": data}
    ).encode()


def _sign(
    body: bytes, secret: str = SECRET, *, at: float | None = None, msg_id: str = "msg_test"
) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": f"v1,{base64.b64encode(digest).decode()}",
    }


def _post(client, body: bytes, headers: dict[str, str]):
    response = client.post(PATH, data=body, content_type="application/json", headers=headers)
    return response.status_code, response.json()


@pytest.fixture
def hooked(tea_in_review, settings):
    """tea_in_review bridged to a (never reached) Argilla server whose webhook secret Assay
    keeps, its dataset id known from an earlier sync."""
    settings.ASSAY = {**settings.ASSAY, "ARGILLA_WEBHOOK_URL": f"http://testserver{PATH}"}
    campaign = _configure(tea_in_review, SERVER, "hooked")
    ArgillaWebhook.objects.create(server_url=SERVER, url=f"http://testserver{PATH}", secret=SECRET)
    ArgillaSync.objects.create(campaign=campaign, dataset_id=DATASET)
    return campaign


def test_a_signed_response_event_queues_one_sync_and_a_burst_queues_no_more(
    hooked, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        status, body = _post(client, _event(), _sign(_event()))
    assert (status, body) == (202, {"type": "response.created", "campaigns": ["tea"], "queued": ["tea"]})
    assert len(queued) == 1
    sync = ArgillaSync.objects.get(campaign=hooked)
    assert sync.webhook_events == 1 and sync.webhook_queued_at is not None
    assert ArgillaWebhook.objects.get(server_url=SERVER).received == 1

    with django_capture_on_commit_callbacks(execute=False) as queued:
        for kind in ("response.updated", "response.created", "response.deleted"):
            status, body = _post(client, _event(kind), _sign(_event(kind), msg_id=f"msg_{kind}"))
            assert (status, body["campaigns"], body["queued"]) == (202, ["tea"], [])
    assert queued == []  # throttled: the sync already queued runs after them
    again = ArgillaSync.objects.get(campaign=hooked)
    assert (again.webhook_events, again.webhook_queued_at) == (4, sync.webhook_queued_at)

    ArgillaSync.objects.filter(pk=sync.pk).update(
        webhook_queued_at=timezone.now() - timedelta(seconds=THROTTLE_SECONDS + 1)
    )
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert _post(client, _event(), _sign(_event()))[1]["queued"] == ["tea"]
    assert len(queued) == 1


def test_the_queued_sync_is_the_campaigns_task_after_the_throttle_window(
    hooked, client, django_capture_on_commit_callbacks, monkeypatch
):
    from workers.celery_app import app

    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, **kwargs: sent.append((name, kwargs)))
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, _event(), _sign(_event()))
    assert sent == [(TASK, {"args": [hooked.pk], "countdown": THROTTLE_SECONDS})]


def test_a_whsec_prefixed_secret_verifies_too(hooked, client):
    ArgillaWebhook.objects.filter(server_url=SERVER).update(secret="whsec_" + SECRET)
    assert _post(client, _event(), _sign(_event()))[0] == 202


def test_a_wrong_signature_is_refused_with_401_and_queues_nothing(hooked, client):
    other = base64.b64encode(b"someone-else-s-webhook-secret-32").decode()
    status, body = _post(client, _event(), _sign(_event(), other))
    assert status == 401 and "matches no Argilla webhook" in body["detail"]
    tampered = _sign(_event())
    status, _ = _post(client, _event("response.updated"), tampered)  # another body, same signature
    assert status == 401
    assert ArgillaSync.objects.get(campaign=hooked).webhook_events == 0
    assert ArgillaWebhook.objects.get(server_url=SERVER).received == 0


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_timestamp_more_than_five_minutes_off_is_refused_with_401(hooked, client, offset):
    status, body = _post(client, _event(), _sign(_event(), at=time.time() + offset))
    assert status == 401 and "off this server's clock" in body["detail"]
    assert ArgillaSync.objects.get(campaign=hooked).webhook_queued_at is None


@pytest.mark.parametrize(
    ("change", "body", "detail"),
    [
        ({"webhook-id": ""}, _event(), "no webhook-id header"),
        ({"webhook-timestamp": "yesterday"}, _event(), "not Unix seconds"),
        ({"webhook-signature": "v1,not*base64"}, _event(), "not base64"),
        ({"webhook-signature": "v1a,c2lnbmF0dXJl"}, _event(), "no v1 signature"),
        ({}, b"{not json", "not JSON"),
        ({}, b'["a", "list"]', "no `type`"),
        ({}, b'{"type": "response.created", "data": {"record": {}}}', "without data.record.dataset.id"),
    ],
)
def test_a_malformed_request_is_refused_with_400(hooked, client, change, body, detail):
    headers = {**_sign(body), **change}
    status, answer = _post(client, body, {k: v for k, v in headers.items() if v})
    assert status == 400 and detail in answer["detail"]
    assert ArgillaSync.objects.get(campaign=hooked).webhook_events == 0


def test_an_event_for_a_dataset_no_campaign_has_is_accepted_and_ignored(
    hooked, client, django_capture_on_commit_callbacks
):
    other = "9d1c2b3a-0000-4000-8000-000000000000"
    with django_capture_on_commit_callbacks(execute=False) as queued:
        status, body = _post(client, _event(dataset_id=other), _sign(_event(dataset_id=other)))
        ping = json.dumps({"type": "ping", "version": 1, "data": {"agent": "argilla-server"}}).encode()
        assert _post(client, ping, _sign(ping)) == (202, {"type": "ping", "campaigns": [], "queued": []})
    assert (status, body) == (202, {"type": "response.created", "campaigns": [], "queued": []})
    assert queued == []
    assert ArgillaSync.objects.get(campaign=hooked).webhook_events == 0
    assert ArgillaWebhook.objects.get(server_url=SERVER).received == 2  # verified all the same


def test_a_dataset_of_the_same_id_on_another_server_is_not_synced(hooked, client):
    other = base64.b64encode(b"another-argilla-server-secret-32").decode()
    ArgillaWebhook.objects.create(server_url="http://other.test", url="x", secret=other)
    status, body = _post(client, _event(), _sign(_event(), other))
    assert (status, body["campaigns"]) == (202, [])
    assert ArgillaSync.objects.get(campaign=hooked).webhook_events == 0


def test_webhooks_are_refused_while_the_setting_is_unset(hooked, client, settings):
    settings.ASSAY = {**settings.ASSAY, "ARGILLA_WEBHOOK_URL": ""}
    status, body = _post(client, _event(), _sign(_event()))
    assert status == 404 and "ASSAY_ARGILLA_WEBHOOK_URL" in body["detail"]
    assert client.get(PATH).status_code == 405


# ---------------------------------------------------------------------------------------------
# Against the real Argilla test server


def _owner_http(server) -> httpx.Client:
    return httpx.Client(base_url=server["url"], headers={"X-Argilla-Api-Key": server["api_key"]}, timeout=10)


def _hooks_to(server, url: str) -> list[dict]:
    with _owner_http(server) as http:
        return [h for h in http.get("/api/v1/webhooks").json()["items"] if h["url"] == url]


@pytest.fixture
def hook_cleanup(argilla_server):
    """Removes, after the test, the webhooks it left on the session's Argilla server (they are
    server-wide: a webhook left behind would post every later test's answers)."""
    urls: list[str] = []
    yield urls.append
    with _owner_http(argilla_server) as http:
        for url in urls:
            for hook in _hooks_to(argilla_server, url):
                http.delete(f"/api/v1/webhooks/{hook['id']}")


@pytest.mark.slow
def test_webhook_ensure_creates_one_webhook_and_keeps_it(argilla_server, hook_cleanup):
    pytest.importorskip("argilla")
    url = "http://127.0.0.1:9/assay-ensure-test"
    hook_cleanup(url)
    target = Target(url=argilla_server["url"], api_key=argilla_server["api_key"], workspace="w", dataset="d")

    secret = webhook_ensure(target, url)
    assert base64.b64decode(secret) and webhook_ensure(target, url) == secret
    [hook] = _hooks_to(argilla_server, url)
    assert (set(hook["events"]), hook["enabled"]) == (set(WEBHOOK_EVENTS), True)

    with _owner_http(argilla_server) as http:
        http.patch(f"/api/v1/webhooks/{hook['id']}", json={"enabled": False, "events": ["record.created"]})
    assert webhook_ensure(target, url) == secret
    [hook] = _hooks_to(argilla_server, url)
    assert hook["enabled"] and set(hook["events"]) == {"record.created", *WEBHOOK_EVENTS}


def _wait_for(check, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout:g}s")


@pytest.mark.slow
def test_an_answer_in_argilla_arrives_by_webhook_and_queues_the_campaigns_sync(
    transactional_db, live_server, tea_in_review, argilla_server, settings, hook_cleanup
):
    pytest.importorskip("argilla")
    url = live_server.url.replace("localhost", "127.0.0.1") + PATH
    hook_cleanup(url)
    settings.ASSAY = {
        **settings.ASSAY,
        "ARGILLA_API_KEY": argilla_server["api_key"],
        "ARGILLA_WEBHOOK_URL": url,
    }
    campaign = _configure(tea_in_review, argilla_server["url"], "webhook-live")

    summary = argilla_sync(campaign=campaign)  # registers the webhook

    assert (summary["pushed"], summary["webhook"]) == (4, "")
    hook = ArgillaWebhook.objects.get(server_url=argilla_server["url"])
    assert hook.url == url and hook.secret and hook.error == ""
    [remote] = _hooks_to(argilla_server, url)
    assert remote["secret"] == hook.secret
    target = argilla_target(campaign=campaign)
    c1, c2, *_ = campaign.candidates.filter(status=CandidateStatus.IN_REVIEW).order_by("pk")

    Annotator(argilla_server, target, "alice").answer(c1.pk, "submitted", decision="accept")

    sync = _wait_for(lambda: ArgillaSync.objects.filter(campaign=campaign, webhook_events__gte=1).first())
    assert sync.webhook_queued_at is not None  # verified and queued
    hook.refresh_from_db()
    assert hook.received >= 1 and hook.received_at is not None
    assert not Review.objects.filter(candidate=c1).exists()  # nothing synced in the request

    Annotator(argilla_server, target, "bob").answer(c2.pk, "submitted", decision="accept")
    _wait_for(lambda: ArgillaSync.objects.filter(campaign=campaign, webhook_events__gte=2).exists())

    summary = argilla_sync(campaign=campaign)  # what the queued task runs

    assert summary["reviews"] == 2
    assert list(
        Review.objects.filter(candidate__in=[c1, c2])
        .order_by("candidate_id")
        .values_list("reviewer__username", "decision")
    ) == [("alice", "accept"), ("bob", "accept")]
    assert len(_hooks_to(argilla_server, url)) == 1  # a second sync keeps the same webhook


@pytest.mark.slow
def test_a_webhook_argilla_refuses_is_reported_and_the_sync_still_runs(
    tea_in_review, argilla_server, settings
):
    pytest.importorskip("argilla")
    from django.core.management import call_command

    url = "assay.example.com/integrations/argilla/webhook"  # no scheme: Argilla answers 422
    settings.ASSAY = {
        **settings.ASSAY,
        "ARGILLA_API_KEY": argilla_server["api_key"],
        "ARGILLA_WEBHOOK_URL": url,
    }
    campaign = _configure(tea_in_review, argilla_server["url"], "webhook-refused")
    err = StringIO()

    call_command("argilla_sync", campaign.slug, stdout=StringIO(), stderr=err)

    sync = ArgillaSync.objects.get(campaign=campaign)
    assert (sync.pushed, sync.error) == (4, "")  # the sync itself succeeded
    hook = ArgillaWebhook.objects.get(server_url=argilla_server["url"])
    assert "HTTP 422" in hook.error and hook.secret == ""
    assert "webhook not kept" in err.getvalue() and "HTTP 422" in err.getvalue()
