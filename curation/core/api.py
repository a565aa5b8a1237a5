"""The HTTP API (CONTRACT "HTTP API"): bearer tokens, roles, JSON errors, OpenAPI at
/api/v1/openapi.json. Routers live beside their apps (`<app>/api.py`)."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest
from ninja import NinjaAPI
from ninja.errors import ValidationError
from ninja.security import HttpBearer

from curation.accounts.models import Role, User
from curation.accounts.services import token_authenticate
from curation.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        return token_authenticate(raw=token)


api = NinjaAPI(
    title="Assay API",
    version="1",
    description="Synthetic data curation: campaigns, review and curated exports.",
    auth=BearerToken(),
    urls_namespace="api",
    openapi_url="/openapi.json",
    docs_url="/docs",
)


def require_role(request: HttpRequest, roles: Iterable[str]) -> User:
    user: User = request.auth
    if user.role not in roles:
        raise Forbidden(f"role {user.role} may not do this (needs {' or '.join(roles)})")
    return user


READ = (Role.ADMIN, Role.EXPERT, Role.VIEWER)
REVIEW = (Role.ADMIN, Role.EXPERT)
ADMIN = (Role.ADMIN,)


def _handler(status: int):
    def handle(request: HttpRequest, exc: Exception):
        return api.create_response(request, {"detail": str(exc)}, status=status)

    return handle


for exc_type, status in ((InvalidInput, 400), (Forbidden, 403), (NotFound, 404), (Conflict, 409)):
    api.add_exception_handler(exc_type, _handler(status))


@api.exception_handler(ValidationError)
def _invalid_body(request: HttpRequest, exc: ValidationError):
    """Bad request data gets the same one-line `detail` as every other error (the
    field and the problem), with pydantic's full list beside it."""
    first = exc.errors[0] if exc.errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "payload"))
    detail = f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid request")
    return api.create_response(request, {"detail": detail, "errors": exc.errors}, status=400)


def register_routers() -> None:
    from curation.campaigns.api import router as campaigns
    from curation.exports.api import router as exports
    from curation.review.api import router as review

    api.add_router("/", campaigns)
    api.add_router("/", review)
    api.add_router("/", exports)


register_routers()
