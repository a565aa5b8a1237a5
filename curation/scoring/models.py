"""Scoring: one stored verdict per critic version and candidate, the stored indexes the
near-duplicate, contamination and embedding critics look things up in, the learned critic
trained on expert decisions, and the record of reinstated auto-rejections."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from curation.campaigns.models import Campaign, Candidate
from curation.sources.models import Example


class CriticScore(models.Model):
    """One critic's verdict on one candidate. Unique per critic version, so scoring is an
    idempotent 'ensure': a retried task computes only what is missing."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="scores")
    critic = models.CharField(max_length=64)
    version = models.CharField(max_length=32)
    score = models.FloatField(null=True)  # 0 (worst) .. 1 (best); NULL: the critic could not tell
    passed = models.BooleanField()
    label = models.CharField(max_length=64, blank=True)  # the reason word when it fails
    rationale = models.TextField(blank=True)
    # What the page shows beside the rationale: matched texts, nearest neighbours, the
    # judge's per-principle critiques. Untrusted text in places: always escaped.
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["candidate", "critic", "version"], name="score_unique_critic"),
        ]
        db_table = "campaigns_criticscore"  # moved from campaigns; the table keeps its name

    def __str__(self) -> str:
        return f"{self.critic} {self.score}"


class _Owned(models.Model):
    """A row about one stored text: an example or a candidate, never both."""

    example = models.ForeignKey(Example, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey(
        Candidate, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )

    class Meta:
        abstract = True


def _one_owner(name: str) -> models.CheckConstraint:
    return models.CheckConstraint(
        condition=models.Q(example__isnull=True, candidate__isnull=False)
        | models.Q(example__isnull=False, candidate__isnull=True),
        name=name,
    )


def _owner(row: _Owned) -> str:
    return f"example {row.example_id}" if row.example_id else f"candidate {row.candidate_id}"


class TextSignature(_Owned):
    """A text's MinHash signature, computed once and stored, so the near-duplicate index
    grows as texts arrive and survives any worker restart. `ngrams` is the number of
    n-gram hashes a held-out example holds (the contamination share's denominator)."""

    version = models.CharField(max_length=32)
    minhash = models.BinaryField()
    ngrams = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            _one_owner("signature_one_owner"),
            models.UniqueConstraint(fields=["example"], name="signature_unique_example"),
            models.UniqueConstraint(fields=["candidate"], name="signature_unique_candidate"),
        ]

    def __str__(self) -> str:
        return f"signature of {_owner(self)}"


class LshBand(_Owned):
    """One locality-sensitive-hashing band of a signature: texts sharing a key are
    near-duplicate suspects, verified on their text before anything is flagged."""

    key = models.BigIntegerField(db_index=True)

    class Meta:
        constraints = [_one_owner("band_one_owner")]

    def __str__(self) -> str:
        return f"band {self.key} of {_owner(self)}"


class HeldoutNgram(models.Model):
    """The word n-gram hashes of held-out examples: a candidate sharing many of them copies
    (part of) an evaluation answer."""

    key = models.BigIntegerField(db_index=True)
    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"n-gram {self.key} of example {self.example_id}"


class TextEmbedding(_Owned):
    """A text's all-MiniLM-L6-v2 embedding (float32 bytes), computed once."""

    version = models.CharField(max_length=32)
    vector = models.BinaryField()

    class Meta:
        constraints = [
            _one_owner("embedding_one_owner"),
            models.UniqueConstraint(fields=["example"], name="embedding_unique_example"),
            models.UniqueConstraint(fields=["candidate"], name="embedding_unique_candidate"),
        ]

    def __str__(self) -> str:
        return f"embedding of {_owner(self)}"


class LearnedCritic(models.Model):
    """A classifier trained on a campaign's expert decisions. Its parameters are plain JSON
    (no pickle); the newest row of a campaign is the one in use."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="learned_critics")
    version = models.PositiveIntegerField()
    trained_on = models.PositiveIntegerField()  # expert decisions it learned from
    quality = models.JSONField()  # out-of-fold n, auc, brier, ece, good_enough, why
    params = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "version"], name="learned_unique_version"),
        ]
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"{self.campaign.slug} learned critic v{self.version}"


class Reinstatement(models.Model):
    """An admin sent an auto-rejected candidate back to review: who, why, and the reasons
    the critics had given."""

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="reinstatements")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    reasons_before = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"candidate {self.candidate_id} reinstated by {self.by}"
