"""Argilla's webhook endpoint: a plain view, since Argilla signs its requests (webhooks.py)
and sends none of Assay's tokens or cookies."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from curation.integrations.argilla.webhooks import WebhookRefused, argilla_webhook_receive


@csrf_exempt
def argilla_webhook(request: HttpRequest) -> HttpResponse:
    """202 with what the event queued, or 400/401/404 with a one-line `detail`. Quick: it
    queues syncs and never runs one."""
    if request.method != "POST":
        return JsonResponse(
            {"detail": "Argilla's webhooks are POSTed"}, status=405, headers={"Allow": "POST"}
        )
    headers = {name.lower(): value for name, value in request.headers.items()}
    try:
        received = argilla_webhook_receive(body=request.body, headers=headers)
    except WebhookRefused as e:
        return JsonResponse({"detail": str(e)}, status=e.status)
    return JsonResponse(received.as_json(), status=202)
