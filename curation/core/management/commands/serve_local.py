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


class Command(BaseCommand):
    help = "Run the web app and (unless one is alive) a worker serving both queues, until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000")

    def handle(self, *args, **opts):
        procs = []
        if not live_workers():
            procs.append(subprocess.Popen(worker_command(), cwd=settings.BASE_DIR))
        procs.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "runserver", opts["addr"], "--noreload"], cwd=settings.BASE_DIR
            )
        )
        queue = "filesystem queue (no Redis)" if settings.EMBEDDED_QUEUE else settings.CELERY_BROKER_URL
        db = settings.DATABASES["default"]
        self.stdout.write(
            f"\nAssay is running at http://{opts['addr']}/\n"
            f"  database: {db['ENGINE'].rsplit('.', 1)[-1]} {db['NAME']}\n  queue: {queue}\n"
            "  demo logins: " + ", ".join(f"{u} / {p} ({r})" for u, r, p in LOGINS) + "\n"
            "Ctrl-C stops the web app and the worker.\n"
        )
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(1)
        except KeyboardInterrupt:
            pass
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
        code = next((p.returncode for p in procs if p.returncode not in (0, None, -signal.SIGTERM)), 0)
        if code:
            self.stderr.write(f"a process stopped with exit code {code}")
            os._exit(code)
