from __future__ import annotations

from django.conf import settings
from django.db import models

from curation.campaigns.models import Candidate


class Decision(models.TextChoices):
    ACCEPT = "accept", "accept"
    REJECT = "reject", "reject"
    EDIT = "edit", "edit"
    SKIP = "skip", "skip"


class Review(models.Model):
    """An expert's decision on a candidate. An edit keeps the candidate's original text."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    edited_response = models.TextField(null=True, blank=True)  # noqa: DJ001 - NULL: not an edit
    reasons = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(decision__in=Decision.values), name="review_decision_valid"
            ),
            # One counted decision per expert and candidate; skips are only a record.
            models.UniqueConstraint(
                fields=["candidate", "reviewer"],
                condition=~models.Q(decision="skip"),
                name="review_one_decision_per_reviewer",
            ),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.decision} by {self.reviewer_id}"
