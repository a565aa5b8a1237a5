"""An export job survives its worker: a real Celery worker process SIGKILLed mid-export (no
warm shutdown, no acknowledgement, its half-written `.NAME.writing-*` folder left behind)
is replaced by the next worker's sweeper with no command from anyone. The job finishes
once, with exactly one Export and nothing left over, and a training job follows it all
through the API with a read-only token."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.support.app import App, make_app

pytestmark = pytest.mark.slow

# Short leases and sweeps, so a lost worker is noticed in seconds, not minutes; Redis
# database 12 for this test's queue.
FAST = {
    "ASSAY_WORK_LEASE_SECONDS": "6",
    "ASSAY_SWEEP_SECONDS": "2",
    "ASSAY_STALE_SECONDS": "8",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/12",
    # The human rows read by a forked child of the worker (parallel.py), so the kill also
    # shows that child goes with its worker and leaves nothing behind.
    "ASSAY_EXPORT_PARALLEL_MIN_ROWS": "1",
}
ROWS = 300  # human rows: embedding them for the diversity figures keeps the export busy for seconds


def write_source(path: Path) -> Path:
    topics = ["brewing", "storage", "kinds"]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(ROWS):
            row = {
                "id": f"q-{i}",
                "prompt": f"Question {i}: how should tea number {i} be kept and brewed?",
                "response": f"Answer {i}: keep it sealed away from light, then brew it for {i % 5 + 2} "
                f"minutes at {70 + i % 25} degrees; variant {i} likes a second, shorter steep.",
                "topic": topics[i % 3],
            }
            fh.write(json.dumps(row) + "\n")
    return path


def job_row(app: App, job_id: int) -> tuple:
    return app.sql("SELECT status, attempts, error, export_id FROM exports_exportjob WHERE id = %s", job_id)[
        0
    ]


def test_a_worker_killed_mid_export_is_replaced_and_the_job_finishes_once(tmp_path):
    root = tmp_path / "exports"
    with make_app("postgres-redis", tmp_path, ASSAY_EXPORT_DIR=str(root), **FAST) as app:
        app.ok("migrate", "--noinput")
        app.ok("import_examples", str(write_source(tmp_path / "big.jsonl")), "--source", "big")
        admin = app.token("ada", "admin")
        app.ok("create_user", "trainer", "--role", "viewer")
        reader = app.ok("create_token", "trainer", "--scope", "exports:read").strip().splitlines()[-1]
        app.serve()

        status, job = app.api("POST", "/api/v1/exports", admin, {"sources": ["big"], "folder": "big-v1"})
        assert status == 202, job
        assert job["progress"] == {"done": 0, "total": ROWS}
        assert app.api("POST", "/api/v1/exports", reader, {"sources": ["big"], "folder": "b2"})[0] == 403

        victim = app.worker(log="victim.log", queues="cpu")
        deadline = time.monotonic() + 180
        while not (job_row(app, job["id"])[0] == "running" and list(root.glob(".big-v1.writing-*"))):
            assert job_row(app, job["id"])[0] in ("queued", "running"), job_row(app, job["id"])
            assert time.monotonic() < deadline, "the victim never started writing"
            time.sleep(0.05)
        App.kill(victim)  # mid-export: the work folder is there, the export is not
        left = list(root.glob(".big-v1.writing-*"))
        assert left and not (root / "big-v1").exists()
        assert job_row(app, job["id"])[:2] == ("running", 1)

        app.worker(log="rescuer.log", queues="cpu")  # nobody reruns anything: its sweeper does
        deadline = time.monotonic() + 300
        while True:
            status, polled = app.api("GET", job["url"], reader)
            assert status == 200, polled
            if polled["status"] in ("done", "failed"):
                break
            assert time.monotonic() < deadline, f"the job did not finish: {polled}"
            time.sleep(0.5)

        assert polled["status"] == "done", polled
        assert polled["attempts"] == 2
        assert polled["progress"] == {"done": ROWS, "total": ROWS}
        assert app.sql("SELECT COUNT(*) FROM exports_export")[0][0] == 1
        assert not list(root.glob(".*.writing-*")), "a killed worker's leftovers stayed"
        assert sorted(p.name for p in root.iterdir()) == ["big-v1"]
        status, manifest = app.api("GET", f"/api/v1/exports/{polled['export']}", reader)
        assert status == 200 and manifest["counts"]["total"] == ROWS
        assert len((root / "big-v1" / "data.jsonl").read_text(encoding="utf-8").splitlines()) == ROWS
        victim_log = (tmp_path / "victim.log").read_text()
        rescuer_log = (tmp_path / "rescuer.log").read_text()
        assert "handed on" in rescuer_log, rescuer_log[-3000:]
        assert "removed 1 leftovers" in rescuer_log, rescuer_log[-3000:]
        assert "done: export" not in victim_log
