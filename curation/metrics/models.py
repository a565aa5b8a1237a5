"""Diversity: the real data's clusters, each campaign's running sums per generation depth,
and snapshots over time. What a page shows is computed by a task and stored here; no
request ever recomputes a campaign."""

from __future__ import annotations

from django.db import models

from curation.campaigns.models import Campaign, Candidate
from curation.sources.models import Source

ALL_DEPTHS = 0  # a DiversityState of every depth together (candidates are depth 1 and up)


class ReferenceClusters(models.Model):
    """k-means clusters of a source's embeddings, refitted when the source changes, with the
    source's whole-corpus figures and its bottom-k sample (the human reference)."""

    source = models.OneToOneField(Source, on_delete=models.CASCADE, related_name="clusters")
    version = models.CharField(max_length=64)  # embedding model and clustering parameters
    examples = models.PositiveIntegerField()  # examples fitted on: a different count refits
    centroids = models.BinaryField()  # float32 (k, d)
    counts = models.JSONField()  # real rows per cluster
    labels = models.JSONField()  # per cluster: the prompt of the example nearest its centre
    sample = models.JSONField()  # example ids, bottom-k by hash (workers.metrics.sample)
    metrics = models.JSONField()  # whole-source figures
    created_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"clusters of {self.source.name}"


class DiversityState(models.Model):
    """Running sums of a campaign's candidates at one generation depth (or all of them):
    Vendi and cosine-distance moments, lexical sums, real-cluster counts, a bottom-k sample."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="diversity_states")
    depth = models.PositiveSmallIntegerField()  # ALL_DEPTHS for the whole campaign
    reference = models.CharField(max_length=100)  # the clusters counted against; a change recounts
    n = models.PositiveIntegerField(default=0)
    moments = models.BinaryField()
    sums = models.JSONField(default=dict)  # mattr_sum, mattr_n, raw_bytes, packed_bytes
    clusters = models.JSONField(default=list)  # candidates per real cluster
    sample = models.JSONField(default=list)  # candidate ids, bottom-k by hash
    metrics = models.JSONField(default=dict)  # ALL_DEPTHS row: what the page and commands show
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "depth"], name="diversity_state_unique")]

    def __str__(self) -> str:
        return f"{self.campaign.slug} depth {self.depth or 'all'}"


class DiversityInclusion(models.Model):
    """The candidate is counted in its campaign's states: a rerun never counts it twice."""

    candidate = models.OneToOneField(Candidate, on_delete=models.CASCADE, primary_key=True)
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"candidate {self.candidate_id} counted"


class DiversitySnapshot(models.Model):
    """The campaign's figures at one moment: the charts over time."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="diversity_snapshots")
    n = models.PositiveIntegerField()
    metrics = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.campaign_id} at {self.created_at:%Y-%m-%d %H:%M}: {self.n}"
