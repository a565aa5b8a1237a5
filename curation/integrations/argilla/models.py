"""What Assay knows of a campaign's Argilla dataset (issue 10): the sync's cursor and last
outcome per campaign, one row per candidate pushed (and how many of its review seats Argilla
holds), which Assay user an Argilla user is, and the webhook each Argilla server signs with.
services.py explains the seats, webhooks.py the webhook."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from curation.campaigns.models import Campaign, Candidate


class ArgillaSync(models.Model):
    """One campaign's bridge: the pull cursor, counts, and the last sync's error (the campaign
    page shows it; a successful sync clears it)."""

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="argilla_sync")
    dataset_id = models.CharField(max_length=64, blank=True)
    # The dataset's vector size, fixed at its creation (NULL: no vectors), so a later change
    # in what the campaign stores never asks Argilla for another dataset.
    vector_dims = models.PositiveIntegerField(null=True, blank=True)
    vector_decided = models.BooleanField(default=False)
    pulled_until = models.DateTimeField(null=True, blank=True)  # the largest Answer.updated_at seen
    pushed = models.PositiveIntegerField(default=0)  # records pushed, each counted once
    pulled = models.PositiveIntegerField(default=0)  # answers recorded as reviews
    refused = models.PositiveIntegerField(default=0)  # answers the review rules refused
    last_ok_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_at = models.DateTimeField(null=True, blank=True)
    # A sync in progress holds the campaign until then: two at once (beat and the command)
    # would push and apply the same things twice over.
    running_until = models.DateTimeField(null=True, blank=True)
    # Argilla's webhook: the response events seen for this dataset, and when the last one
    # queued a sync (at most one per webhooks.THROTTLE_SECONDS; webhooks.py).
    webhook_events = models.PositiveIntegerField(default=0)
    webhook_queued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"argilla sync of {self.campaign_id}"


class ArgillaWebhook(models.Model):
    """The webhook Assay keeps on one Argilla server (Argilla's webhooks are server-wide),
    posting to ASSAY_ARGILLA_WEBHOOK_URL: the secret its requests are signed with. A sync
    ensures it and records here a failure to (an admin's key may not manage webhooks)."""

    server_url = models.CharField(max_length=500, unique=True)  # Argilla, no trailing slash
    url = models.CharField(max_length=500)  # where that server posts
    secret = models.TextField(blank=True)  # Standard Webhooks' base64 key; blank: none yet
    ensured_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)  # the last failure to ensure it
    received = models.PositiveIntegerField(default=0)  # requests verified with this secret
    received_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"webhook of {self.server_url} to {self.url}"


class RecordState(models.TextChoices):
    LEASED = "leased", "in Argilla, holding seats"
    RETURNED = "returned", "seats given back; to remove from Argilla"
    DONE = "done", "answered in full; left in Argilla"
    REMOVED = "removed", "removed from Argilla"


class ArgillaRecord(models.Model):
    """A candidate pushed to Argilla (record id == candidate id). `seats` of the candidate's
    review seats are Argilla's while it is `leased` (counted in Candidate.holders)."""

    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, related_name="argilla_record")
    state = models.CharField(max_length=8, choices=RecordState.choices, default=RecordState.LEASED)
    seats = models.PositiveSmallIntegerField(default=0)
    submitted = models.PositiveSmallIntegerField(default=0)  # Argilla answers recorded as decisions
    pushed_at = models.DateTimeField(null=True, blank=True)  # NULL: reserved, not yet sent
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)  # the last answer of it the review rules refused

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=RecordState.values), name="argilla_record_state_valid"
            ),
            models.CheckConstraint(
                condition=(models.Q(state="leased") & models.Q(seats__gte=1, lease_expires_at__isnull=False))
                | (~models.Q(state="leased") & models.Q(seats=0)),
                name="argilla_record_seats_when_leased",
            ),
        ]
        indexes = [models.Index(fields=["state", "lease_expires_at"], name="argilla_record_lease")]

    def __str__(self) -> str:
        return f"{self.candidate_id} in Argilla ({self.state})"


class ArgillaUser(models.Model):
    """An Argilla user and the Assay user their answers are recorded as."""

    argilla_id = models.CharField(max_length=64, unique=True)  # a UUID
    username = models.CharField(max_length=150)  # as in Argilla, when last seen
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="argilla_users")

    def __str__(self) -> str:
        return f"{self.username} ({self.argilla_id})"
