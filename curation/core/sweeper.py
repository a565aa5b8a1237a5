"""The sweeper: periodic, idempotent repairs that keep campaigns moving with nobody
watching. Beat publishes `workers.sweep` every ASSAY_SWEEP_SECONDS (in production its own
service; `make worker` and the embedded default's worker run beat inside the worker).

Each stage registers its own repair here (generation hands on the batches of dead
workers, scoring queues lost scoring again, campaigns settle), so core depends on no app.
Every repair is a conditional update: two sweepers at once do the work once."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.utils import timezone

log = logging.getLogger(__name__)

Repair = Callable[[], object]
_repairs: dict[str, Repair] = {}


def register(name: str, repair: Repair) -> None:
    _repairs[name] = repair


def sweep() -> dict[str, object]:
    """Run every repair; one failing does not stop the others (the next sweep retries it)."""
    done: dict[str, object] = {}
    for name, repair in _repairs.items():
        try:
            done[name] = repair()
        except Exception as e:
            log.exception("sweep: %s failed", name)
            done[name] = f"error: {type(e).__name__}: {e}"
    log.info("sweep: %s", done)
    return done


def forget_dead_workers() -> int:
    """Heartbeats of workers gone for a day: the worker list shows the living."""
    from curation.core.models import WorkerHeartbeat

    return WorkerHeartbeat.objects.filter(last_seen__lt=timezone.now() - timedelta(days=1)).delete()[0]


register("workers", forget_dead_workers)
