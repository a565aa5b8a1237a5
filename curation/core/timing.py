"""Server-Timing: how long the Django stack took for a request, in the response's header
(`Server-Timing: app;dur=12.3`, milliseconds), so a client or a benchmark (bench/review.py)
tells the server's share of a request from the network's and its own. The first middleware,
so the figure covers every other middleware and the view; a streamed body is not included."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase


class ServerTiming:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        start = time.perf_counter()
        response = self.get_response(request)
        entry = f"app;dur={(time.perf_counter() - start) * 1000:.1f}"
        earlier = response.get("Server-Timing")
        response["Server-Timing"] = f"{earlier}, {entry}" if earlier else entry
        return response
