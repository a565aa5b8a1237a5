"""A worker for the duration of a command, when no worker is alive: this is how
`run_campaign --wait` works in the embedded default with nothing started by hand."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from curation.core.heartbeat import INTERVAL
from curation.core.models import WorkerHeartbeat


def live_workers(queue: str | None = None) -> list[WorkerHeartbeat]:
    recent = WorkerHeartbeat.objects.filter(last_seen__gte=timezone.now() - timedelta(seconds=INTERVAL * 4))
    return [w for w in recent if queue is None or queue in w.queues.split(",")]


def worker_command(queues: str = "gpu,cpu", hostname: str | None = None) -> list[str]:
    """One worker process for the queues, solo pool (one engine per process), with beat
    inside it (-B): the periodic sweeper that hands on the work of dead workers runs
    wherever a worker runs, with nothing else to start."""
    cmd = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "workers.celery_app",
        "worker",
        "-Q",
        queues,
        "--pool",
        "solo",
        "--loglevel",
        "INFO",
        "--without-mingle",
        "--without-gossip",
        "-B",
    ]
    return cmd + (["--hostname", hostname] if hostname else [])


@contextlib.contextmanager
def worker_if_none(queues: tuple[str, ...] = ("gpu", "cpu")) -> Iterator[subprocess.Popen | None]:
    """Start a local worker for the queues no live worker serves; stop it on exit."""
    missing = [q for q in queues if not live_workers(q)]
    if not missing:
        yield None
        return
    logs = settings.DATA_DIR / "logs"
    logs.mkdir(exist_ok=True)
    log_path = logs / f"worker-{os.getpid()}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            worker_command(",".join(missing), f"local-{os.getpid()}@%h"),
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=settings.BASE_DIR,
            env=os.environ.copy(),
        )
    try:
        yield proc
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)  # warm shutdown: unacknowledged tasks go back to the queue
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
