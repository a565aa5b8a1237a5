from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from curation.core.local_worker import live_workers, worker_command
from curation.core.management.commands.seed_demo import LOGINS

# A worker that dies (killed, out of memory, past its hard time limit) is started again,
# as compose's restart policy does in production; one that keeps dying at start is not.
RESTARTS_PER_MINUTE = 5


class Command(BaseCommand):
    help = (
        "Run the web app and (unless one is alive) a worker serving both queues with the sweeper, "
        "until Ctrl-C. A worker that dies is started again."
    )

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, **opts):
        worker = subprocess.Popen(worker_command(), cwd=settings.BASE_DIR) if not live_workers() else None
        web = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", opts["addr"], "--noreload"], cwd=settings.BASE_DIR
        )
        queue = "filesystem queue (no Redis)" if settings.EMBEDDED_QUEUE else settings.CELERY_BROKER_URL
        db = settings.DATABASES["default"]
        self.stdout.write(
            f"\nAssay is running at http://{opts['addr']}/\n"
            f"  database: {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}\n  queue: {queue}\n"
            "  demo logins: " + ", ".join(f"{u} / {p} ({r})" for u, r, p in LOGINS) + "\n"
            "Ctrl-C stops the web app and the worker.\n"
        )
        restarts: list[float] = []
        checked = time.monotonic()
        try:
            while web.poll() is None:
                # Another worker served the queues at start: take over once none is alive.
                if worker is None and time.monotonic() - checked > 10:
                    checked = time.monotonic()
                    if not live_workers():
                        self.stderr.write("no worker is alive any more; starting one")
                        worker = subprocess.Popen(worker_command(), cwd=settings.BASE_DIR)
                if worker is not None and worker.poll() is not None:
                    now = time.monotonic()
                    restarts = [t for t in restarts if now - t < 60] + [now]
                    if len(restarts) > RESTARTS_PER_MINUTE:
                        self.stderr.write(
                            f"the worker keeps stopping (exit code {worker.returncode}); giving up"
                        )
                        break
                    self.stderr.write(
                        f"the worker stopped (exit code {worker.returncode}); starting it again"
                    )
                    worker = subprocess.Popen(worker_command(), cwd=settings.BASE_DIR)
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            procs = [p for p in (web, worker) if p is not None]
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        if web.returncode not in (0, None, -signal.SIGTERM):
            self.stderr.write(f"the web app stopped with exit code {web.returncode}")
            os._exit(1)
        if len(restarts) > RESTARTS_PER_MINUTE:
            os._exit(1)
