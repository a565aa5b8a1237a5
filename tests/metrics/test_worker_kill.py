"""The diversity figures survive a worker SIGKILLed while counting, with every queued
message lost too: the sweeper in the next worker queues the update again, and each
candidate is counted exactly once."""

from __future__ import annotations

import time

import pytest
import redis

from tests.metrics.conftest import collapsed_rows, faq_rows, write
from tests.support.app import App, make_app

pytestmark = pytest.mark.slow

FAST = {"ASSAY_SWEEP_SECONDS": "2", "ASSAY_STALE_SECONDS": "6"}


def test_a_worker_killed_while_counting_is_repaired_by_the_sweeper(tmp_path):
    with make_app("postgres-redis", tmp_path, **FAST) as app:
        app.ok("migrate", "--noinput")
        app.ok("import_examples", str(write(tmp_path / "faq.jsonl", faq_rows()[::2])), "--source", "faq")
        (tmp_path / "c.yaml").write_text("slug: div-kill\nsource: faq\ncount: 1\n")
        app.ok("create_campaign", str(tmp_path / "c.yaml"))
        rows = [{"prompt": r["prompt"], "response": r["response"]} for r in faq_rows()[1::2][:45]]
        rows += collapsed_rows()
        app.ok("import_candidates", str(write(tmp_path / "cands.jsonl", rows)), "--campaign", "div-kill")
        total = len(rows)

        victim = app.worker(log="victim.log")
        app.ok("score_campaign", "div-kill")
        deadline = time.monotonic() + 600
        while app.sql("SELECT COUNT(*) FROM campaigns_candidate WHERE status IN ('generated', 'scored')")[0][
            0
        ]:
            assert time.monotonic() < deadline, "scoring did not finish"
            time.sleep(0.1)
        App.kill(victim)  # the counting starts as the last scoring batch ends
        redis.Redis.from_url(app.env["CELERY_BROKER_URL"]).flushdb()  # and every queued message is lost
        counted = app.sql("SELECT COUNT(*) FROM metrics_diversityinclusion")[0][0]
        assert counted < total, "the victim finished counting before it was killed"

        app.worker(log="rescuer.log")
        shown = app.wait_until("div-kill", lambda s: s.get("diversity", {}).get("n") == total, 240)
        assert shown["diversity"]["alarms"]  # the collapsed half narrows the campaign
        assert app.sql("SELECT COUNT(*) FROM metrics_diversityinclusion")[0][0] == total
        states = dict(app.sql("SELECT depth, n FROM metrics_diversitystate"))
        assert states[0] == total and sum(n for d, n in states.items() if d) == total
