"""Task time limits in the solo pool (core/time_limits.py), which Celery does not enforce
there: the soft limit raises inside the task (tests/generation/test_worker_faults.py runs
it in a real worker); past the hard limit the process exits, whatever its main thread is
doing, so its batch lease runs out and the sweeper hands the batch on."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "curation.settings")
    import django
    django.setup()
    from workers.celery_app import app
    from curation.core import time_limits

    time_limits._state["solo"] = True  # what worker_ready notes for a solo pool

    class Task:
        name, soft_time_limit, time_limit, app = "stuck", None, 1, app

    time_limits._arm(task=Task())
    print("armed", flush=True)
    # A main thread that never comes back to Python is what the hard limit is for.
    while True:
        try:
            time.sleep(30)
        except BaseException:
            pass
    """
)


def test_past_the_hard_limit_a_solo_worker_process_exits(tmp_path):
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "ASSAY_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"},
    )
    assert done.stdout.startswith("armed")
    assert done.returncode == 70, done.stderr[-500:]
    assert "passed its hard time limit (1 s): stopping this worker process" in done.stderr
    assert time.monotonic() - started < 30
