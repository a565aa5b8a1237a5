"""The queue heals itself, with real processes: workers SIGKILLed mid-batch, a Redis server
restarted mid-campaign, pause/resume/cancel, the solo pool's time limit. Nobody reruns
anything: the sweeper inside the surviving workers (beat, -B) does the repair. Generation
goes to a scripted OpenAI-compatible endpoint, so batches take a known time."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from tests.conftest import DATA
from tests.support.app import App, make_app
from tests.support.endpoint import Endpoint

pytestmark = pytest.mark.slow

# Short leases and sweeps, so a lost worker is noticed in seconds, not minutes.
FAST = {
    "ASSAY_WORK_LEASE_SECONDS": "6",
    "ASSAY_SWEEP_SECONDS": "2",
    "ASSAY_STALE_SECONDS": "8",
    "ASSAY_GENERATION_BATCH_SIZE": "4",
}


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    ep = Endpoint(delay_s=0.8)
    yield ep
    ep.close()


def campaign(
    app: App, slug: str, base_url: str, count: int, *, concurrency: int = 2, extra: str = ""
) -> None:
    path = app.tmp / f"{slug}.yaml"
    path.write_text(
        f"slug: {slug}\nsource: tea\ncount: {count}\nfewshot: 2\n"
        f"generator:\n  backend: openai\n  model: scripted\n  base_url: {base_url}\n"
        f"  concurrency: {concurrency}\n  timeout_s: 30\n{extra}"
        "  params: {temperature: 0.8, max_tokens: 64, seed: 100}\n"
    )
    app.ok("create_campaign", str(path))


def prepared(app: App) -> None:
    app.ok("migrate", "--noinput")
    app.ok("import_examples", str(DATA / "tea_train.jsonl"), "--source", "tea")


def settled(shown: dict) -> int:
    c = shown["counts"]
    return sum(c[k] for k in ("in_review", "auto_rejected", "approved", "rejected"))


def exactly(app: App, slug: str, count: int) -> None:
    """Every slot once: no candidate lost, none generated twice."""
    rows = app.sql(
        "SELECT c.slot, c.response, c.seed FROM campaigns_candidate c "
        "JOIN campaigns_campaign k ON k.id = c.campaign_id WHERE k.slug = %s",
        slug,
    )
    assert sorted(r[0] for r in rows) == list(range(count))
    assert len({r[1] for r in rows}) == count
    assert sorted(r[2] for r in rows) == [100 + s for s in range(count)]


def batches(app: App, slug: str) -> list[tuple]:
    return app.sql(
        'SELECT g."index", g.status, g.attempts, g.claimed_by, g.error FROM campaigns_generationbatch g '
        'JOIN campaigns_campaign k ON k.id = g.campaign_id WHERE k.slug = %s ORDER BY g."index"',
        slug,
    )


def held_by(app: App, slug: str, worker: subprocess.Popen) -> list[tuple]:
    """Batches running under the lease of that worker process (claimed_by holds its pid)."""
    return [b for b in batches(app, slug) if b[1] == "running" and f":{worker.pid}:" in b[3]]


@pytest.mark.parametrize("mode", ["postgres-redis", "embedded"])
def test_a_worker_killed_mid_batch_is_replaced_with_nothing_lost_or_doubled(mode, tmp_path, endpoint):
    with make_app(mode, tmp_path, **FAST) as app:
        prepared(app)
        campaign(app, "tea-kill", endpoint.base_url, 40)
        victim = app.worker(log="victim.log")
        app.worker(log="survivor.log")
        app.ok("run_campaign", "tea-kill")
        # Kill the victim while it holds a batch, after some candidates exist.
        deadline = time.monotonic() + 120
        orphaned: list[tuple] = []
        while not orphaned:
            assert time.monotonic() < deadline, batches(app, "tea-kill")
            made = app.sql("SELECT COUNT(*) FROM campaigns_candidate")[0][0]
            if made >= 4 and held_by(app, "tea-kill", victim):
                App.kill(victim)
                # Whatever the victim still held when it died is orphaned (it may have just
                # finished the batch seen a moment ago: then wait for its next one).
                orphaned = [
                    b for b in batches(app, "tea-kill") if b[1] == "running" and f":{victim.pid}:" in b[3]
                ]
                if not orphaned:
                    victim = app.worker(log="victim.log")
            time.sleep(0.1)
        killed = orphaned[0][0]
        shown = app.wait_until("tea-kill", lambda s: s["status"] == "done", 180)
        assert settled(shown) == 40
        exactly(app, "tea-kill", 40)
        after = {b[0]: b for b in batches(app, "tea-kill")}
        assert after[killed][1] == "done" and after[killed][2] == 2  # handed on once, then done
        assert "stopped while generating" in after[killed][4]


def test_a_redis_restart_mid_campaign_loses_no_candidate(tmp_path, endpoint):
    """Redis without persistence forgets every queued message when it restarts: the turns
    and the scoring tasks. The database remembers the work, and the sweeper queues it again."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    def start_redis() -> subprocess.Popen:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return proc
            except OSError:
                time.sleep(0.1)
        raise AssertionError("redis-server did not start")

    server = start_redis()
    try:
        with make_app(
            "postgres-redis", tmp_path, CELERY_BROKER_URL=f"redis://127.0.0.1:{port}/0", **FAST
        ) as app:
            prepared(app)
            campaign(app, "tea-redis", endpoint.base_url, 40)
            app.worker()
            app.ok("run_campaign", "tea-redis")
            app.wait_until("tea-redis", lambda s: s["progress"]["done"] >= 8, 120, every=0.3)
            server.terminate()
            server.wait(30)
            time.sleep(3)
            server = start_redis()  # empty: every queued message is gone
            shown = app.wait_until("tea-redis", lambda s: s["status"] == "done", 240)
            assert settled(shown) == 40
            exactly(app, "tea-redis", 40)
    finally:
        server.terminate()
        server.wait(30)


def test_pause_resume_and_cancel_with_a_real_worker(tmp_path, endpoint):
    with make_app("embedded", tmp_path, **FAST) as app:
        prepared(app)
        campaign(app, "tea-ctl", endpoint.base_url, 40)
        app.worker()
        app.ok("run_campaign", "tea-ctl")
        app.wait_until("tea-ctl", lambda s: s["progress"]["done"] >= 4, 120, every=0.3)
        assert "paused tea-ctl" in app.ok("pause_campaign", "tea-ctl")
        assert "already paused" in app.ok("pause_campaign", "tea-ctl")  # idempotent
        # The running batch finishes; then nothing more is generated.
        app.wait_until("tea-ctl", lambda s: not s["progress"]["batches"]["running"], 60, every=0.3)
        first = app.show("tea-ctl")
        time.sleep(5)
        again = app.show("tea-ctl")
        assert again["status"] == "paused" and again["progress"]["done"] == first["progress"]["done"] < 40
        assert settled(again) == again["progress"]["done"]  # what was made is still scored
        assert "resumed tea-ctl" in app.ok("resume_campaign", "tea-ctl")
        assert settled(app.wait_until("tea-ctl", lambda s: s["status"] == "done", 180)) == 40
        exactly(app, "tea-ctl", 40)

        campaign(app, "tea-stop", endpoint.base_url, 40)
        app.ok("run_campaign", "tea-stop")
        app.wait_until("tea-stop", lambda s: s["progress"]["done"] >= 4, 120, every=0.3)
        assert "cancelled tea-stop" in app.ok("cancel_campaign", "tea-stop")
        assert "already cancelled" in app.ok("cancel_campaign", "tea-stop")
        shown = app.wait_until(
            "tea-stop",
            lambda s: not s["progress"]["batches"]["running"] and settled(s) == s["progress"]["done"],
            60,
        )
        time.sleep(5)
        final = app.show("tea-stop")
        assert final["status"] == "cancelled" and final["progress"]["done"] == shown["progress"]["done"] < 40
        assert settled(final) == final["progress"]["done"]
        refused = app.manage("run_campaign", "tea-stop")
        assert refused.returncode != 0 and "was cancelled and stays stopped" in refused.stderr


def test_the_solo_pools_soft_time_limit_ends_a_stuck_batch_visibly(tmp_path):
    """Celery does not enforce time limits in the solo pool that GPU workers use; Assay does."""
    slow = Endpoint(delay_s=12)
    try:
        with make_app(
            "embedded",
            tmp_path,
            CELERY_TASK_SOFT_TIME_LIMIT="3",
            ASSAY_GENERATION_MAX_ATTEMPTS="1",
            **FAST,
        ) as app:
            prepared(app)
            campaign(app, "tea-slow", slow.base_url, 4)
            app.worker()
            run = app.manage("run_campaign", "tea-slow", "--wait", timeout=120)
            assert run.returncode != 0 and "Traceback" not in run.stderr
            assert "SoftTimeLimitExceeded: soft time limit (3 s) exceeded" in run.stderr, run.stderr
            shown = app.show("tea-slow")
            assert shown["status"] == "failed" and "soft time limit" in shown["error"]
    finally:
        slow.close()


def test_an_unreachable_endpoint_fails_the_campaign_after_bounded_retries(tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    dead = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    s.close()
    with make_app("embedded", tmp_path, **FAST) as app:
        prepared(app)
        campaign(app, "tea-down", dead, 4, extra="  max_retries: 1\n")
        started = time.monotonic()
        run = app.manage("run_campaign", "tea-down", "--wait", timeout=300)
        assert run.returncode != 0 and "Traceback" not in run.stderr
        assert "after 3 attempts" in run.stderr and "127.0.0.1" in run.stderr
        assert time.monotonic() - started < 200
        shown = app.show("tea-down")
        assert shown["status"] == "failed" and sum(shown["counts"].values()) == 0
