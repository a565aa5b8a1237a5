from __future__ import annotations

from django.db import models


class Split(models.TextChoices):
    TRAIN = "train", "train"
    HELDOUT = "heldout", "held-out"  # never exported for training: ablations and metrics are measured on it


class TaskKind(models.TextChoices):
    INSTRUCTION = "instruction", "instruction"  # prompt + response
    CHAT = "chat", "chat"  # messages


class Source(models.Model):
    """A named body of human-written data with one license and one split."""

    name = models.SlugField(max_length=100, unique=True)
    split = models.CharField(max_length=16, choices=Split.choices)
    license = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(split__in=Split.values), name="source_split_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.split})"


class Example(models.Model):
    """One human-written sample. `prompt`/`response` are also filled for chat rows
    (user and assistant turns), so critics and metrics read one shape."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="examples")
    external_id = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=TaskKind.choices)
    prompt = models.TextField()
    response = models.TextField()
    messages = models.JSONField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    content_sha256 = models.CharField(max_length=64)  # of the sample itself: re-imports skip it
    text_key = models.CharField(max_length=64, db_index=True)  # normalized response: duplicate checks
    row_number = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "content_sha256"], name="example_unique_content"),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return self.prompt[:80]

    @property
    def public_id(self) -> str:
        return self.external_id or f"example-{self.pk}"
