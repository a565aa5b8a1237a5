"""Who may call the HTTP API: bearer tokens and the roles each endpoint requires.
Apps' routers import these; the NinjaAPI itself is built in `curation/api.py`."""

from __future__ import annotations

from collections.abc import Iterable

from django.http import HttpRequest
from ninja.security import HttpBearer

from curation.accounts.models import Role, User
from curation.accounts.services import token_authenticate
from curation.core.errors import Forbidden


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        return token_authenticate(raw=token)


def require_role(request: HttpRequest, roles: Iterable[str]) -> User:
    user: User = request.auth
    if user.role not in roles:
        raise Forbidden(f"role {user.role} may not do this (needs {' or '.join(roles)})")
    return user


READ = (Role.ADMIN, Role.EXPERT, Role.VIEWER)
REVIEW = (Role.ADMIN, Role.EXPERT)
ADMIN = (Role.ADMIN,)
