from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from curation.campaigns.selectors import campaign_counts_many, campaign_list
from curation.core.local_worker import live_workers
from curation.metrics.selectors import diversity_alarms_many


@login_required
def home(request: HttpRequest) -> HttpResponse:
    campaigns = list(campaign_list(user=request.user))
    counts = campaign_counts_many(campaigns=campaigns)
    alarms = diversity_alarms_many(campaigns=campaigns)
    rows = [(c, counts[c.pk], sum(counts[c.pk].values()), alarms.get(c.pk)) for c in campaigns]
    return render(request, "core/home.html", {"rows": rows, "workers": live_workers()})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cur:
        cur.execute("SELECT 1")
    return JsonResponse({"ok": True})
