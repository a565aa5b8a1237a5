from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"  # configures campaigns, imports, exports
    EXPERT = "expert", "Expert"  # reviews candidates
    VIEWER = "viewer", "Viewer"  # reads


class User(AbstractUser):
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(role__in=Role.values), name="user_role_valid"),
        ]

    @property
    def is_admin_role(self) -> bool:
        return self.role == Role.ADMIN

    def can_review(self) -> bool:
        # An admin resolves conflicts, so may review too.
        return self.role in (Role.EXPERT, Role.ADMIN)


class Scope(models.TextChoices):
    """What a token may call, whatever its user's role allows (accounts.services.scope_allows)."""

    ALL = "all", "everything the user's role allows"
    EXPORTS_READ = "exports:read", "read exports only (list, manifests, files, job status): for training jobs"


class ApiToken(models.Model):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    prefix = models.CharField(max_length=12)  # lets a user tell their tokens apart
    key_sha256 = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=32, choices=Scope.choices, default=Scope.ALL)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(scope__in=Scope.values), name="apitoken_scope_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user}, {self.scope})"
