"""Worker heartbeats in the database: a thread per worker process writes `last_seen`
every few seconds (a solo-pool worker is busy in its main thread while it generates)."""

from __future__ import annotations

import logging
import os
import threading

from celery.signals import worker_ready, worker_shutdown
from django.db import close_old_connections, connection
from django.utils import timezone

INTERVAL = 5.0
_stop = threading.Event()
log = logging.getLogger(__name__)


def _beat(hostname: str, queues: str, started, concurrency: int) -> None:
    from celery.worker import state

    from curation.core.models import WorkerHeartbeat

    free_since = timezone.now()
    while not _stop.is_set():
        try:
            # The worker's own count of executing tasks (kept in this main process for every pool).
            active = len(state.active_requests)
            if active >= concurrency:
                free_since = None
            elif free_since is None:
                free_since = timezone.now()
            close_old_connections()
            WorkerHeartbeat.objects.update_or_create(
                hostname=hostname,
                defaults={
                    "queues": queues,
                    "pid": os.getpid(),
                    "started_at": started,
                    "last_seen": timezone.now(),
                    "concurrency": concurrency,
                    "active": active,
                    "free_since": free_since,
                },
            )
        except Exception:  # a missed beat must never kill the worker
            log.warning("heartbeat failed", exc_info=True)
        finally:
            connection.close()
        _stop.wait(INTERVAL)


@worker_ready.connect
def _start(sender, **kwargs) -> None:
    queues = ",".join(sorted(sender.app.amqp.queues.consume_from or sender.app.amqp.queues))
    _stop.clear()
    # `sender` is the consumer; its controller is the WorkController with the pool size.
    concurrency = getattr(getattr(sender, "controller", None), "concurrency", None) or 1
    threading.Thread(
        target=_beat,
        args=(sender.hostname, queues, timezone.now(), concurrency),
        daemon=True,
        name="heartbeat",
    ).start()


@worker_shutdown.connect
def _end(sender, **kwargs) -> None:
    from curation.core.models import WorkerHeartbeat

    _stop.set()
    try:
        WorkerHeartbeat.objects.filter(hostname=sender.hostname).delete()
    except Exception:
        log.warning("could not clear heartbeat", exc_info=True)
