from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from curation.sources.models import Source, TaskKind


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "draft"
    RUNNING = "running", "running"  # generating (and scoring)
    PAUSED = "paused", "paused"  # no new generation batches; running ones finish
    CANCELLED = "cancelled", "cancelled"  # stopped for good; what was made is still scored
    DONE = "done", "done"
    FAILED = "failed", "failed"


class Campaign(models.Model):
    """A generation campaign. `config` is the validated CampaignConfig (campaigns/config.py);
    the columns beside it are what queries filter on."""

    slug = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=200)
    task = models.CharField(max_length=16, choices=TaskKind.choices, default=TaskKind.INSTRUCTION)
    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="campaigns")
    count = models.PositiveIntegerField()
    config = models.JSONField()
    status = models.CharField(max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT)
    error = models.TextField(blank=True)
    # Only its members (CampaignMembership) among experts see it and review it.
    members_only = models.BooleanField(default=False)
    # Last time generation messages were published for it (the sweeper's starvation check).
    nudged_at = models.DateTimeField(null=True, blank=True)
    # Last scoring progress, or the last time lost scoring work was queued again.
    scored_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=CampaignStatus.values), name="campaign_status_valid"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="failed", error=""), name="campaign_failed_has_error"
            ),
        ]
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    def admits(self, user) -> bool:
        """Whether this expert may see and review it: every expert, unless the campaign is
        members only. Admins and viewers see every campaign."""
        if not self.members_only or getattr(user, "role", None) != "expert":
            return True
        return self.memberships.filter(user=user).exists()

    @property
    def generation_queue(self) -> str:
        """The Celery queue of its generation batches (`generator.queue`)."""
        return (self.config.get("generator") or {}).get("queue") or "gpu"


class CampaignMembership(models.Model):
    """An expert who belongs to a campaign (what `members_only` restricts it to)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "user"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.campaign_id}"

    def clean(self) -> None:
        # The admin's Members inline validates here: admins and viewers see every campaign.
        if self.user_id and self.user.role != "expert":
            raise ValidationError(
                f"{self.user.username} is a {self.user.role}, not an expert: members are experts"
            )


class CandidateStatus(models.TextChoices):
    GENERATED = "generated", "generated"
    SCORED = "scored", "scored"  # transient: critics done, triage not yet
    AUTO_REJECTED = "auto_rejected", "auto-rejected"
    IN_REVIEW = "in_review", "in review"
    IN_ADJUDICATION = "in_adjudication", "in adjudication"  # experts disagreed; an admin decides
    APPROVED = "approved", "approved"
    REJECTED = "rejected", "rejected"


class Origin(models.TextChoices):
    HUMAN = "human", "human"
    SYNTHETIC = "synthetic", "synthetic"
    SYNTHETIC_EDITED = "synthetic_edited", "synthetic, edited by a human"


class Candidate(models.Model):
    """One generated (or imported synthetic) sample with its full lineage."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="candidates")
    batch = models.ForeignKey("generation.GenerationBatch", null=True, blank=True, on_delete=models.SET_NULL)
    slot = models.PositiveIntegerField(null=True, blank=True)  # position in the campaign, generated only
    # NULL (not "") so the unique constraint ignores generated rows.
    import_key = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    external_id = models.CharField(max_length=200, blank=True)
    prompt = models.TextField()
    response = models.TextField()
    messages = models.JSONField(null=True, blank=True)
    raw_output = models.TextField(blank=True)
    # "length" when the generator stopped at max_tokens: the answer is cut off (truncation critic).
    finish_reason = models.CharField(max_length=16, blank=True)
    # Critique and revise: the candidate whose judge's critique this one was generated to fix.
    revised_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="revisions"
    )
    metadata = models.JSONField(default=dict, blank=True)
    # Lineage (DESIGN.md "Candidate").
    generator = models.JSONField(default=dict, blank=True)  # {backend, model, params}
    seed = models.BigIntegerField(null=True, blank=True)
    rendered_prompt = models.TextField(blank=True)
    parents = models.JSONField(default=list, blank=True)  # example or candidate public ids
    generation_depth = models.PositiveSmallIntegerField(default=1)
    content_sha256 = models.CharField(max_length=64)
    text_key = models.CharField(max_length=64, db_index=True)
    # Triage and review.
    status = models.CharField(
        max_length=16, choices=CandidateStatus.choices, default=CandidateStatus.GENERATED
    )
    reasons = models.JSONField(default=list, blank=True)
    priority = models.FloatField(default=0.0)  # higher is reviewed first
    edited_response = models.TextField(null=True, blank=True)  # noqa: DJ001 - NULL: never edited
    edited_prompt = models.TextField(null=True, blank=True)  # noqa: DJ001 - NULL: never edited
    # Review policy (review.per_item, overlap): distinct experts it needs, counted decisions
    # (skips excluded) and live leases (review.Assignment rows). The queue offers it while
    # decisions + holders < needed.
    needed = models.PositiveSmallIntegerField(default=1)
    decisions = models.PositiveSmallIntegerField(default=0)
    holders = models.PositiveSmallIntegerField(default=0)
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=CandidateStatus.values), name="candidate_status_valid"
            ),
            models.UniqueConstraint(
                fields=["campaign", "slot"],
                condition=models.Q(slot__isnull=False),
                name="candidate_unique_slot",
            ),
            models.UniqueConstraint(
                fields=["campaign", "import_key"],
                condition=models.Q(import_key__isnull=False),
                name="candidate_unique_import",
            ),
            # The review invariants, kept by the database whatever code writes the row.
            models.CheckConstraint(
                condition=models.Q(needed__gte=1)
                & models.Q(decisions__lte=models.F("needed") - models.F("holders")),
                name="candidate_review_seats",
            ),
            models.CheckConstraint(
                condition=models.Q(holders=0) | models.Q(status="in_review"),
                name="candidate_leased_in_review",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["approved", "rejected"], decided_at__isnull=False)
                | (~models.Q(status__in=["approved", "rejected"]) & models.Q(decided_at__isnull=True)),
                name="candidate_decided_when_decided",
            ),
            models.CheckConstraint(
                condition=models.Q(status="approved")
                | models.Q(edited_response__isnull=True, edited_prompt__isnull=True),
                name="candidate_edited_only_approved",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="in_adjudication") | models.Q(decisions=models.F("needed")),
                name="candidate_adjudicated_when_decided",
            ),
            # One revision per candidate: a retried judge task never makes a second one.
            models.UniqueConstraint(
                fields=["revised_from"],
                condition=models.Q(revised_from__isnull=False),
                name="candidate_unique_revision",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "status", "-priority", "id"], name="candidate_queue"),
            # The review queue alone: decided rows never sit at its head (bench/review.py).
            models.Index(
                fields=["campaign", "-priority", "id"],
                condition=models.Q(status="in_review"),
                name="candidate_review_queue",
            ),
            # "Decided since the last training", counted on every decision.
            models.Index(
                fields=["campaign", "decided_at"],
                condition=models.Q(decided_at__isnull=False),
                name="candidate_decided",
            ),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.prompt[:60]}"

    @property
    def public_id(self) -> str:
        return self.external_id or f"candidate-{self.pk}"

    @property
    def origin(self) -> str:
        edited = self.edited_response is not None or self.edited_prompt is not None
        return Origin.SYNTHETIC_EDITED if edited else Origin.SYNTHETIC

    @property
    def final_prompt(self) -> str:
        return self.edited_prompt if self.edited_prompt is not None else self.prompt

    @property
    def final_response(self) -> str:
        return self.edited_response if self.edited_response is not None else self.response
