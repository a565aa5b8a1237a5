"""Generation work: a campaign's slots are cut into batches, each one task's worth."""

from __future__ import annotations

from django.db import models

from curation.campaigns.models import Campaign


class BatchStatus(models.TextChoices):
    PENDING = "pending", "pending"
    RUNNING = "running", "running"
    DONE = "done", "done"
    FAILED = "failed", "failed"


class GenerationBatch(models.Model):
    """One generation task's worth of slots [start, start + size). A retried batch
    fills only its missing slots, so it never duplicates a candidate."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="batches")
    index = models.PositiveIntegerField()
    start = models.PositiveIntegerField()
    size = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    prompt_template = models.TextField(blank=True)  # the template this batch rendered (provenance)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "index"], name="batch_unique_index"),
            models.CheckConstraint(
                condition=models.Q(status__in=BatchStatus.values), name="batch_status_valid"
            ),
        ]
        ordering = ["campaign", "index"]
        db_table = "campaigns_generationbatch"  # moved from campaigns; the table keeps its name

    def __str__(self) -> str:
        return f"{self.campaign_id}/{self.index}"
