from __future__ import annotations

from pathlib import PurePath

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


class JobStatus(models.TextChoices):
    QUEUED = "queued", "queued"  # waiting for a worker (or for its retry's backoff)
    RUNNING = "running", "running"  # claimed by a worker process, which renews its lease
    DONE = "done", "done"
    FAILED = "failed", "failed"  # a permanent error, or out of attempts; `error` says why


LIVE = (JobStatus.QUEUED, JobStatus.RUNNING)


class ExportJob(models.Model):
    """An export asked for from the page or the API, written by a `cpu` worker.

    The row is the queue's memory, as a generation batch is: claimed by conditional update
    under a lease that a thread of the worker renews (core.leases). A worker that dies
    stops renewing; the sweeper puts the job back in the queue and the next worker writes it
    again, after removing what the dead one left. One live job per output folder (a partial
    unique constraint), so that clean-up never touches a folder another live job writes."""

    params = models.JSONField()  # the keyword arguments of export_create, `out` included
    out_dir = models.CharField(max_length=1000)  # absolute, under settings.EXPORT_DIR
    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    rows_done = models.PositiveBigIntegerField(default=0)
    rows_total = models.PositiveBigIntegerField(default=0)  # the preview's count until writing says
    error = models.TextField(blank=True)  # the final error, or the last failed attempt's
    export = models.OneToOneField(Export, null=True, blank=True, on_delete=models.PROTECT, related_name="job")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    attempts = models.PositiveIntegerField(default=0)  # claims so far, the current one included
    claimed_by = models.CharField(max_length=200, blank=True)  # worker process id (core.leases)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)  # retry backoff
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)  # the current or last attempt
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)  # also: when its message was last published

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=JobStatus.values), name="exportjob_status_valid"
            ),
            models.UniqueConstraint(
                fields=["out_dir"],
                condition=models.Q(status__in=LIVE),
                name="exportjob_one_live_job_per_folder",
            ),
            # A running job has a holder and a lease, so the sweeper can tell it was abandoned.
            models.CheckConstraint(
                condition=~models.Q(status=JobStatus.RUNNING)
                | (models.Q(lease_expires_at__isnull=False) & ~models.Q(claimed_by="")),
                name="exportjob_running_has_lease",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=JobStatus.DONE)
                | (models.Q(export__isnull=False) & models.Q(finished_at__isnull=False)),
                name="exportjob_done_has_export",
            ),
            # A final failure is never silent.
            models.CheckConstraint(
                condition=~models.Q(status=JobStatus.FAILED) | ~models.Q(error=""),
                name="exportjob_failed_has_error",
            ),
        ]
        indexes = [models.Index(fields=["status", "lease_expires_at"], name="exportjob_lease")]

    def __str__(self) -> str:
        return f"export job {self.pk}"

    @property
    def folder(self) -> str:
        return PurePath(self.out_dir).name

    @property
    def live(self) -> bool:
        return self.status in LIVE

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.rows_done / self.rows_total)) if self.rows_total else 0
