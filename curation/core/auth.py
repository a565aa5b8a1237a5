"""Who may call the HTTP API: bearer tokens and the roles each endpoint requires.
Apps' routers import these; the NinjaAPI itself is built in `curation/api.py`."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from django.http import HttpRequest
from django.urls import reverse
from ninja.security import HttpBearer

from curation.accounts.models import Role, User
from curation.accounts.services import token_authorize
from curation.core.errors import Forbidden


@cache
def _api_root() -> str:
    return reverse("api:openapi-json").removesuffix("openapi.json")


class BearerToken(HttpBearer):
    """Every endpoint's authentication, and so the one place a token's scope is enforced:
    a route added later is checked like the others (accounts.services.SCOPE_RULES)."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        path = request.path.removeprefix(_api_root())
        return token_authorize(raw=token, method=request.method or "GET", path=path)


def require_role(request: HttpRequest, roles: Iterable[str]) -> User:
    user: User = request.auth
    if user.role not in roles:
        raise Forbidden(f"role {user.role} may not do this (needs {' or '.join(roles)})")
    return user


READ = (Role.ADMIN, Role.EXPERT, Role.VIEWER)
REVIEW = (Role.ADMIN, Role.EXPERT)
ADMIN = (Role.ADMIN,)
