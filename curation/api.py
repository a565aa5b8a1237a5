"""The HTTP API (CONTRACT "HTTP API"), the one composition root: bearer-token auth, JSON
errors, OpenAPI at /api/v1/openapi.json and every app's router. Routers live beside their
apps (`<app>/api.py`) and only this module imports them (an import-linter contract)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import ValidationError

from curation.campaigns.api import router as campaigns
from curation.core.auth import BearerToken
from curation.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from curation.exports.api import router as exports
from curation.review.api import router as review
from curation.scoring.api import router as scoring

api = NinjaAPI(
    title="Assay API",
    version="1",
    description="Synthetic data curation: campaigns, review and curated exports.",
    auth=BearerToken(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


def _handler(status: int) -> Callable[[HttpRequest, Exception], HttpResponse]:
    def handle(request: HttpRequest, exc: Exception) -> HttpResponse:
        return api.create_response(request, {"detail": str(exc)}, status=status)

    return handle


for exc_type, status in ((InvalidInput, 400), (Forbidden, 403), (NotFound, 404), (Conflict, 409)):
    api.add_exception_handler(exc_type, _handler(status))


@api.exception_handler(ValidationError)
def _invalid_body(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """Bad request data gets the same one-line `detail` as every other error (the
    field and the problem), with pydantic's full list beside it."""
    first = exc.errors[0] if exc.errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "payload"))
    detail = f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid request")
    return api.create_response(request, {"detail": detail, "errors": exc.errors}, status=400)


api.add_router("/", campaigns)
api.add_router("/", review)
api.add_router("/", scoring)
api.add_router("/", exports)
