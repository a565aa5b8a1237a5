from __future__ import annotations

from django.conf import settings
from django.db import models


class Export(models.Model):
    """A curated dataset written to disk. Immutable once made: the files' sha256s are
    kept here so a changed file is noticed instead of served."""

    out_dir = models.CharField(max_length=1000)
    format = models.CharField(max_length=16)
    params = models.JSONField()  # inputs and policy as asked
    manifest = models.JSONField()  # the manifest.json written (a ladder: the index of its steps)
    files = models.JSONField()  # [{name, rows, sha256}] relative to out_dir, every step included
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"export {self.pk}"
