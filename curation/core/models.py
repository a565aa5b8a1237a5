from __future__ import annotations

from django.db import models


class WorkerHeartbeat(models.Model):
    """A Celery worker's last sign of life: the UI shows it and `--wait` commands
    start a local worker when none is alive."""

    hostname = models.CharField(max_length=255, unique=True)
    queues = models.CharField(max_length=255)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)
    concurrency = models.PositiveIntegerField(default=1)  # tasks it runs at once
    active = models.PositiveIntegerField(default=0)  # tasks running at the last beat
    # Since when it has had room for another task (NULL while full): a worker with room for
    # long, beside a campaign with work waiting, means that campaign's messages were lost.
    free_since = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.hostname
