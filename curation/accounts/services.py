from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from curation.accounts.models import ApiToken, Role, User
from curation.core.errors import InvalidInput, NotFound

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


def token_create(*, username: str) -> str:
    """A new API token for the user; only its hash is stored, so this is the one
    moment it can be read."""
    try:
        user = User.objects.get(username=username)
    except User.DoesNotExist:
        raise NotFound(f"no user named {username!r} (create it with create_user)") from None
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, prefix=raw[:12], key_sha256=_digest(raw))
    return raw


def token_authenticate(*, raw: str) -> User | None:
    # key_sha256 is unique: get() reads by its index with no ORDER BY, as first() would add.
    try:
        token = ApiToken.objects.select_related("user").get(key_sha256=_digest(raw))
    except ApiToken.DoesNotExist:
        return None
    if not token.user.is_active:
        return None
    now = timezone.now()
    # Touch at most once a minute: a busy client must not turn every read into a write.
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
