from __future__ import annotations

from django.conf import settings
from django.db import models

from curation.campaigns.models import Candidate


class Decision(models.TextChoices):
    ACCEPT = "accept", "accept"
    REJECT = "reject", "reject"
    EDIT = "edit", "edit"
    SKIP = "skip", "skip"


UNEDITED = models.Q(edited_response__isnull=True, edited_prompt__isnull=True)


class Review(models.Model):
    """An expert's decision on a candidate. An edit keeps the candidate's original text."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="reviews")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    edited_response = models.TextField(null=True, blank=True)  # noqa: DJ001 - NULL: not an edit
    edited_prompt = models.TextField(null=True, blank=True)  # noqa: DJ001 - NULL: prompt kept
    reasons = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    seconds_spent = models.FloatField(null=True, blank=True)  # measured on the page
    edit_distance = models.PositiveIntegerField(default=0)  # words changed, prompt and response
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
            # An edit carries edited text; nothing else does.
            models.CheckConstraint(
                condition=(models.Q(decision="edit") & ~UNEDITED) | (~models.Q(decision="edit") & UNEDITED),
                name="review_edit_has_text",
            ),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.decision} by {self.reviewer_id}"


class Assignment(models.Model):
    """A lease of one candidate to one expert: several experts may hold the same candidate
    at once (review.per_item), each at most once. The row goes when the expert decides,
    skips or releases it, or when the reaper finds it expired."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="assignments")
    expert = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments")
    started_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["candidate", "expert"], name="assignment_one_per_expert"),
        ]

    def __str__(self) -> str:
        return f"{self.candidate_id} to {self.expert_id}"


class Adjudication(models.Model):
    """An admin's decision on a candidate whose experts disagreed: its one outcome."""

    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, related_name="adjudication")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="adjudications")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    edited_response = models.TextField(null=True, blank=True)  # noqa: DJ001
    edited_prompt = models.TextField(null=True, blank=True)  # noqa: DJ001
    reasons = models.JSONField(default=list, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(decision__in=["accept", "reject", "edit"]),
                name="adjudication_decision_valid",
            ),
            models.CheckConstraint(
                condition=(models.Q(decision="edit") & ~UNEDITED) | (~models.Q(decision="edit") & UNEDITED),
                name="adjudication_edit_has_text",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} by {self.by_id}"
