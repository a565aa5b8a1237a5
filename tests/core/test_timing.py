"""Every response says how long the Django stack took (core/timing.py), which
bench/review.py reads to tell the server's time from the client's."""

from __future__ import annotations

import re

from django.conf import settings

DUR = re.compile(r"(?:^|, )app;dur=(\d+\.\d)$")


def test_server_timing_is_the_first_middleware():
    assert settings.MIDDLEWARE[0] == "curation.core.timing.ServerTiming"


def test_a_page_carries_server_timing(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert DUR.search(response["Server-Timing"])


def test_an_api_error_carries_it_too(api, client, db):
    response = client.post("/api/v1/campaigns/nope/next")  # no token: refused
    assert response.status_code in (401, 403)
    assert float(DUR.search(response["Server-Timing"]).group(1)) >= 0


def test_an_earlier_entry_is_kept():
    from django.http import HttpResponse
    from django.test import RequestFactory

    from curation.core.timing import ServerTiming

    def view(request):
        response = HttpResponse("ok")
        response["Server-Timing"] = "db;dur=1.0"
        return response

    response = ServerTiming(view)(RequestFactory().get("/"))
    assert response["Server-Timing"].startswith("db;dur=1.0, app;dur=")
    assert DUR.search(response["Server-Timing"])
