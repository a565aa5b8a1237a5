"""Scoring: one stored verdict per critic version and candidate."""

from __future__ import annotations

from django.db import models

from curation.campaigns.models import Candidate


class CriticScore(models.Model):
    """One critic's verdict on one candidate. Unique per critic version, so scoring is an
    idempotent 'ensure': a retried task computes only what is missing."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="scores")
    critic = models.CharField(max_length=64)
    version = models.CharField(max_length=32)
    score = models.FloatField()  # 0 (worst) .. 1 (best)
    passed = models.BooleanField()
    label = models.CharField(max_length=64, blank=True)  # the reason word when it fails
    rationale = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["candidate", "critic", "version"], name="score_unique_critic"),
        ]
        db_table = "campaigns_criticscore"  # moved from campaigns; the table keeps its name

    def __str__(self) -> str:
        return f"{self.critic} {self.score:.2f}"
