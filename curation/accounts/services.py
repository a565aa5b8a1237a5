from __future__ import annotations

import hashlib
import re
import secrets

from django.db import transaction
from django.utils import timezone

from curation.accounts.models import ApiToken, Role, Scope, User
from curation.core.errors import Forbidden, InvalidInput, NotFound

TOKEN_PREFIX = "asy_"  # noqa: S105 - a public prefix, not a secret


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def user_create(*, username: str, role: str, password: str | None = None, email: str = "") -> User:
    """Create a user, or update the role (and password, when given) of an existing one."""
    if role not in Role.values:
        raise InvalidInput(f"--role must be one of {', '.join(Role.values)}, not {role!r}")
    with transaction.atomic():
        user, _ = User.objects.get_or_create(username=username, defaults={"email": email})
        user.role = role
        # Admins configure campaigns in the Django admin too.
        user.is_staff = user.is_superuser = role == Role.ADMIN
        if password:
            user.set_password(password)
        elif not user.has_usable_password():
            user.set_unusable_password()
        user.save()
    return user


def token_create(*, username: str, scope: str = Scope.ALL) -> str:
    """A new API token for the user; only its hash is stored, so this is the one
    moment it can be read. `scope` narrows what the token may call (Scope)."""
    if scope not in Scope.values:
        raise InvalidInput(f"--scope must be one of {', '.join(Scope.values)}, not {scope!r}")
    try:
        user = User.objects.get(username=username)
    except User.DoesNotExist:
        raise NotFound(f"no user named {username!r} (create it with create_user)") from None
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, prefix=raw[:12], key_sha256=_digest(raw), scope=scope)
    return raw


# What each narrowed scope may call: HTTP methods and API paths (relative to /api/v1/). A
# route not listed is refused, so a route added later is closed to a narrowed token until
# someone opens it here on purpose.
SCOPE_RULES: dict[str, tuple[frozenset[str], re.Pattern[str]]] = {
    Scope.EXPORTS_READ: (frozenset({"GET"}), re.compile(r"^exports(/|$)")),
}


def scope_allows(*, scope: str, method: str, path: str) -> bool:
    """May a token of `scope` call `method path` (path relative to the API root)?"""
    if scope == Scope.ALL:
        return True
    rule = SCOPE_RULES.get(scope)
    if rule is None:
        return False
    methods, paths = rule
    return method.upper() in methods and paths.match(path) is not None


def token_authorize(*, raw: str, method: str, path: str) -> User | None:
    """The token's user when the token may call `method path` (relative to the API root);
    None for an unknown or dead token (401); Forbidden naming the scope when its scope does
    not reach this route (403). Every API call passes here (core.auth.BearerToken)."""
    found = _token(raw)
    if found is None:
        return None
    if not scope_allows(scope=found.scope, method=method, path=path):
        raise Forbidden(
            f"this token's scope is {found.scope} ({found.get_scope_display()}): "
            f"it may not call {method.upper()} /{path}"
        )
    _touch(found)
    return found.user


def _token(raw: str) -> ApiToken | None:
    # key_sha256 is unique: get() reads by its index with no ORDER BY, as first() would add.
    try:
        token = ApiToken.objects.select_related("user").get(key_sha256=_digest(raw))
    except ApiToken.DoesNotExist:
        return None
    return token if token.user.is_active else None


def _touch(token: ApiToken) -> None:
    now = timezone.now()
    # Touch at most once a minute: a busy client must not turn every read into a write.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
