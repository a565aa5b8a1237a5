"""Review benchmark (`make bench`, issue 8): writes bench/results/review.json.

One campaign of 1,000,000 candidates in review on the real PostgreSQL (127.0.0.1:5432, a
throwaway database assay_bench_review, dropped at the end unless --keep), the real app under
gunicorn (2 workers x 10 threads, so the 20 experts are served at once; docker-compose.yml
runs 3 sync workers) with CONN_MAX_AGE=60 as docker-compose.yml sets it, and 20
experts over loopback HTTP, each looping POST /api/v1/campaigns/{slug}/next then POST
/api/v1/candidates/{id}/review (accept, or reject with reason "wrong" for one id in ten, so
two experts on one item agree). Once with review.per_item 1, once with 2 (the table emptied
and loaded again, so each run has exactly one campaign of 1M rows), the first WARMUP_S of
each run left out of the figures. Two modes each (runs[].mode):

  paced     the headline, what the 25 ms goal is judged on: each expert reads the item
            before deciding, a think time drawn from an exponential distribution (mean
            THINK_MEAN_S, capped at THINK_CAP_S, seeded per expert) between its `next` and
            its submit, so the server sees the load 20 working experts make (about 10
            decisions/s), for PACED_S;
  flat_out  no think time: the 20 experts loop as fast as the server answers, for
            DURATION_S; its decisions/s is the throughput at saturation, and its latencies
            are those of a saturated box, not of the service experts get.

Server time is the app's own `Server-Timing: app;dur=` header (curation/core/timing.py: the
whole Django stack, GIL waits of the worker's threads included, gunicorn's accept queue
not); client time is the round trip seen by the expert thread (its own GIL waits included:
20 client threads share this process). On this 2-core machine client, gunicorn and
PostgreSQL share the CPUs, so the 20-expert figures are those of a saturated box; a
one-expert run gives the uncontended figure beside them, and each run records the CPU a
decision costs in the app, in PostgreSQL and in the client, and how many cores that kept busy.
A third run (late_campaign, paced) repeats the per_item 1 one with 300,000 of the
campaign's candidates already decided, as a campaign looks a third of the way in. Each run
records the machine's load beside it (`machine_load`: every process's CPU on the box, the
bench's own share, the rest, and the load average), since other jobs may share the box.

Also: the candidate list API (?page=1, ?page=10000 by offset, ?after=<middle id> by key),
the campaign page (a session login), median server time of 5 each, and EXPLAIN (ANALYZE,
BUFFERS) of the queue query (review.assignments.queue as _take runs it) after each run.

Loading: the campaign through the product (import_examples, create_campaign), then the
candidates by one INSERT ... SELECT FROM generate_series, then VACUUM ANALYZE.

  --keep        keep the database (to try an index by hand), print its URL
  --index SQL   run this SQL (CREATE INDEX ...) after each load, recorded in the JSON
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import math
import os
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "review.json"
BIN = Path(sys.executable).parent
PG = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432")
DBNAME = "assay_bench_review"
DATABASE_URL = f"{PG}/{DBNAME}"
BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/14")
SEED_FILE = ROOT / "tests" / "data" / "tea_train.jsonl"

CANDIDATES = 1_000_000
EXPERTS = 20
DURATION_S = 30.0  # each flat-out run
PACED_S = 60.0  # each paced run (about 10 decisions/s: some 550 samples of each request)
LATE_S = 40.0  # the late-campaign run (paced)
WARMUP_S = 3.0
ONE_EXPERT_S = 10.0
THINK_MEAN_S = 2.0  # paced mode: an expert's time on an item, exponential with this mean,
THINK_CAP_S = 6.0  # capped here
THINK_SEED = 8  # expert i draws from random.Random(THINK_SEED * 1000 + i)
LATE_DECIDED = 300_000  # the late-campaign run: this many decided before it
REPEAT = 5  # list and page timings: median of this many
GOAL_MS = 25.0
PASSWORD = "bench-review-pass-1"  # noqa: S105 - a throwaway user in a throwaway database

os.environ.update(
    DJANGO_SETTINGS_MODULE="curation.settings",
    DATABASE_URL=DATABASE_URL,
    CELERY_BROKER_URL=BROKER,
    CONN_MAX_AGE="60",
    LOG_LEVEL="WARNING",
)
sys.path.insert(0, str(ROOT))

TIMING = re.compile(r"\bapp;dur=([0-9.]+)")


def device() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"cpu: {os.cpu_count()} cores, {name}"


def percentile(values: list[float], q: float) -> float:
    """Nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def row(samples: list[tuple[float, float]]) -> dict[str, Any]:
    """{server,client}_{p50,p99}_ms of (client_ms, server_ms) samples."""
    client = [c for c, _ in samples]
    server = [s for _, s in samples]
    return {
        "server_p50_ms": round(percentile(server, 0.50), 2),
        "server_p99_ms": round(percentile(server, 0.99), 2),
        "client_p50_ms": round(percentile(client, 0.50), 2),
        "client_p99_ms": round(percentile(client, 0.99), 2),
        "n": len(samples),
    }


# The database --------------------------------------------------------------------------------


def admin_sql(sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def db_create() -> None:
    admin_sql(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')
    admin_sql(f'CREATE DATABASE "{DBNAME}"')


def db_drop() -> None:
    from django.db import connections

    connections.close_all()
    admin_sql(f'DROP DATABASE IF EXISTS "{DBNAME}" WITH (FORCE)')


def campaign_yaml(path: Path, slug: str, per_item: int) -> Path:
    path.write_text(
        f"slug: {slug}\nname: Review bench, per_item {per_item}\ntask: instruction\nsource: seed\n"
        f"count: {CANDIDATES}\nreview:\n  per_item: {per_item}\n",
        encoding="utf-8",
    )
    return path


def setup(tmp: Path) -> dict[str, Any]:
    """Schema, the seed source, both campaigns, an admin and the experts with tokens."""
    from django.core.management import call_command

    from curation.accounts.services import token_create, user_create
    from curation.campaigns.models import Campaign

    call_command("migrate", "--noinput", verbosity=0)
    call_command("import_examples", str(SEED_FILE), source="seed", stdout=io.StringIO())
    for per_item in (1, 2):
        path = campaign_yaml(tmp / f"review-{per_item}.yaml", f"bench-review-{per_item}", per_item)
        call_command("create_campaign", str(path), stdout=io.StringIO())
    user_create(username="bench-admin", role="admin", password=PASSWORD)
    experts = []
    for i in range(EXPERTS):
        user_create(username=f"expert-{i:02d}", role="expert")
        experts.append(token_create(username=f"expert-{i:02d}"))
    return {
        "campaigns": {p: Campaign.objects.get(slug=f"bench-review-{p}") for p in (1, 2)},
        "experts": experts,
        "admin": token_create(username="bench-admin"),
    }


INSERT = """
INSERT INTO campaigns_candidate (
    campaign_id, external_id, prompt, response, raw_output, finish_reason, rendered_prompt,
    metadata, generator, parents, reasons, generation_depth, content_sha256, text_key,
    status, priority, needed, decisions, holders, created_at)
SELECT %s, '', 'How long should tea number ' || g || ' steep?',
    'Steep it for ' || (g %% 7 + 2) || ' minutes in water just off the boil (batch ' || g || ').',
    '', '', '', '{}', '{}', '[]', '[]', 1,
    md5('content-' || g) || md5('sha-' || g), md5('key-' || g) || md5('text-' || g),
    'in_review', random(), %s, 0, 0, now()
FROM generate_series(1, %s) AS g
"""


def load(campaign_id: int, needed: int, index_sql: str | None) -> dict[str, Any]:
    """The table emptied (with what refers to candidates), then CANDIDATES rows in review."""
    from django.db import connection

    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("TRUNCATE campaigns_candidate CASCADE")
        cur.execute(INSERT, [campaign_id, needed, CANDIDATES])
        t1 = time.perf_counter()
        if index_sql:
            cur.execute(index_sql)
        cur.execute("VACUUM ANALYZE campaigns_candidate")
        cur.execute("SELECT pg_total_relation_size('campaigns_candidate')")
        size = cur.fetchone()[0]
    return {
        "insert_s": round(t1 - t0, 1),
        "load_s": round(time.perf_counter() - t0, 1),
        "table_mb": round(size / 2**20),
    }


def queue_plan(campaign) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of the queue query as _take runs it, for the first expert,
    in a transaction rolled back (the row lock it takes is let go)."""
    from django.db import connection, transaction

    from curation.accounts.models import User
    from curation.review.assignments import queue

    user = User.objects.get(username="expert-00")
    with transaction.atomic(), connection.cursor() as cur:
        qs = queue(user=user, campaign=campaign).select_for_update(skip_locked=True, of=("self",))[:1]
        sql, params = qs.query.sql_with_params()
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        plan = "\n".join(r[0] for r in cur.fetchall())
        transaction.set_rollback(True)
    return plan


# The server ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(port: int, log: Path) -> subprocess.Popen:
    cmd = [str(BIN / "gunicorn"), "curation.wsgi", "-w", "2", "--threads", "10"]
    cmd += ["-b", f"127.0.0.1:{port}", "--log-level", "warning"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=os.environ.copy(), stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    for _ in range(300):
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited ({proc.returncode}):\n{log.read_text()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return proc
        except OSError:
            pass
        time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"gunicorn did not answer /healthz in 30 s:\n{log.read_text()}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Client:
    """One keep-alive connection; call() returns (status, body, client_ms, server_ms).
    gunicorn closes a connection idle for its --keep-alive (2 s), so one idle longer than
    IDLE_REOPEN_S (a paced expert thinking) is replaced by a new one before the request,
    not found closed by it (a paced expert's client time then includes a loopback connect)."""

    IDLE_REOPEN_S = 1.5

    def __init__(self, port: int, token: str | None = None) -> None:
        self.port, self.conn, self.used = port, None, 0.0
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, Any, float, float]:
        if self.conn is not None and time.perf_counter() - self.used > self.IDLE_REOPEN_S:
            self.conn.close()
            self.conn = None
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        data = json.dumps(body).encode() if body is not None else None
        t0 = time.perf_counter()
        try:
            self.conn.request(method, path, body=data, headers=self.headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        self.used = time.perf_counter()
        client_ms = (self.used - t0) * 1000
        match = TIMING.search(response.getheader("Server-Timing") or "")
        server_ms = float(match.group(1)) if match else float("nan")
        try:
            parsed = json.loads(raw) if raw.strip() else None
        except ValueError:
            parsed = raw[:200]
        return response.status, parsed, client_ms, server_ms


# The experts ---------------------------------------------------------------------------------


def expert(
    port: int, token: str, slug: str, start: float, end: float, out: dict[str, Any], rng: random.Random | None
) -> None:
    """Lease and decide until `end`; samples after start + WARMUP_S are kept. With `rng`
    (paced mode) the expert starts at a random moment of its first think time and thinks
    before each submit; a think that would run past `end` ends the expert there, its lease
    left held (as an expert's who goes home)."""
    client = Client(port, token)
    nexts, submits, errors, done, warm, thought = [], [], [], [], 0, []
    if rng is not None:
        time.sleep(rng.uniform(0, THINK_MEAN_S))
    while time.perf_counter() < end:
        try:
            status, item, c_ms, s_ms = client.call("POST", f"/api/v1/campaigns/{slug}/next", {})
            t = time.perf_counter()
            if status == 204:
                errors.append("queue empty")
                break
            if status != 200:
                errors.append(f"next {status}: {item}")
                continue
            if t - start >= WARMUP_S:
                nexts.append((c_ms, s_ms))
            cid = item["id"]
            if rng is not None:
                think = min(rng.expovariate(1 / THINK_MEAN_S), THINK_CAP_S)
                if t + think >= end:
                    break
                thought.append(think)
                time.sleep(think)
            body = {"decision": "reject", "reasons": ["wrong"]} if cid % 10 == 0 else {"decision": "accept"}
            status, result, c_ms, s_ms = client.call("POST", f"/api/v1/candidates/{cid}/review", body)
            t = time.perf_counter()
            if status != 200:
                errors.append(f"review {cid} {status}: {result}")
                continue
            if t - start >= WARMUP_S:
                submits.append((c_ms, s_ms))
                if t <= end:
                    done.append(t)
            else:
                warm += 1
        except (OSError, http.client.HTTPException) as e:
            errors.append(f"{type(e).__name__}: {e}")
    with LOCK:
        out["next"] += nexts
        out["submit"] += submits
        out["errors"] += errors
        out["done"] += done
        out["warmup_decisions"] += warm
        out["thought"] += thought


LOCK = threading.Lock()


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU time so far of the gunicorn workers, of this database's PostgreSQL backends (the
    app's persistent connections; this process's own left out) and of this process (the
    experts' client threads)."""
    import psutil
    from django.db import connection

    def used(pids) -> dict[int, float]:
        out = {}
        for pid in pids:
            try:
                t = psutil.Process(pid).cpu_times()
                out[pid] = t.user + t.system
            except psutil.Error:
                pass
        return out

    with connection.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        backends = [r[0] for r in cur.fetchall()]
    workers = [c.pid for c in psutil.Process(server_pid).children()]
    SERVER_PIDS.update(workers)
    me = psutil.Process().cpu_times()
    return {"app": used(workers), "db": used(backends), "client": {0: me.user + me.system}}


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds each part (app, db, client) used between two cpu_seconds()."""
    return {
        part: sum(t - before[part].get(pid, 0.0) for pid, t in after[part].items())
        for part in ("app", "db", "client")
    }


def machine_busy() -> float:
    """CPU seconds every process on the machine has used so far (idle and iowait not)."""
    import psutil

    t = psutil.cpu_times()
    return t.user + t.nice + t.system + getattr(t, "irq", 0.0) + getattr(t, "softirq", 0.0)


def review_run(
    port: int, tokens: list[str], slug: str, duration: float, server_pid: int, *, paced: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {"next": [], "submit": [], "errors": [], "done": [], "warmup_decisions": 0}
    out["thought"] = []
    load_before = os.getloadavg()[0]
    cpu_before, busy_before = cpu_seconds(server_pid), machine_busy()
    # Seeded per expert: think times, not secrets.
    rngs = [random.Random(THINK_SEED * 1000 + i) if paced else None for i in range(len(tokens))]  # noqa: S311
    start = time.perf_counter()
    end = start + duration
    threads = [
        threading.Thread(target=expert, args=(port, token, slug, start, end, out, rng), daemon=True)
        for token, rng in zip(tokens, rngs, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    spent = cpu_spent(cpu_before, cpu_seconds(server_pid))
    busy = machine_busy() - busy_before
    decisions = len(out["submit"]) + out["warmup_decisions"]
    window = duration - WARMUP_S
    result: dict[str, Any] = {
        "mode": "paced" if paced else "flat_out",
        "next": row(out["next"]),
        "submit": row(out["submit"]),
        "decisions_per_s": round(len(out["done"]) / window, 1),
        "errors": len(out["errors"]),
        "error_samples": sorted(set(out["errors"]))[:5],
        "seconds": duration,
        "warmup_s": WARMUP_S,
    }
    if paced:
        thought = out["thought"]
        result["think_s"] = {
            "distribution": f"exponential, mean {THINK_MEAN_S:g} s, capped at {THINK_CAP_S:g} s",
            "seed": THINK_SEED,
            "mean_drawn": round(statistics.fmean(thought), 2) if thought else None,
            "n": len(thought),
        }
    result.update(
        {
            # CPU per decision (a next and a submit, warm-up included), over the whole run
            "cpu_per_decision": {f"{k}_ms": round(1000 * v / max(decisions, 1), 2) for k, v in spent.items()},
            "cpu_busy_cores": round(sum(spent.values()) / elapsed, 2),
            # What else ran on the box meanwhile: every process's CPU, in cores, the bench's
            # own (app, its PostgreSQL backends, the expert threads) and the rest.
            "machine_load": {
                "cores": os.cpu_count(),
                "busy_cores_all": round(busy / elapsed, 2),
                "busy_cores_bench": round(sum(spent.values()) / elapsed, 2),
                "busy_cores_other": round(max(0.0, busy - sum(spent.values())) / elapsed, 2),
                "load_average_1min_before": round(load_before, 2),
                "load_average_1min_after": round(os.getloadavg()[0], 2),
            },
        }
    )
    return result


def late_run(port: int, tokens: list[str], campaign, duration: float, server_pid: int) -> dict[str, Any]:
    """The same campaign LATE_DECIDED decisions in: that many more of the best candidates set
    approved by SQL (no review rows: what the queue and the learned critic's check read is
    the candidate row), then VACUUM ANALYZE as autovacuum would have run by then, and the
    20 experts again, paced."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "UPDATE campaigns_candidate SET status = 'approved', decisions = needed, decided_at = now() "
            "WHERE id IN (SELECT id FROM campaigns_candidate WHERE campaign_id = %s AND status = 'in_review' "
            "AND holders = 0 ORDER BY priority DESC, id LIMIT %s)",
            [campaign.pk, LATE_DECIDED],
        )
        cur.execute("VACUUM ANALYZE campaigns_candidate")
        cur.execute(
            "SELECT count(*) FROM campaigns_candidate WHERE campaign_id = %s AND status <> 'in_review'",
            [campaign.pk],
        )
        decided = cur.fetchone()[0]
    run = review_run(port, tokens, campaign.slug, duration, server_pid, paced=True)
    return {"per_item": 1, "decided_before": decided, **run, "queue_plan": queue_plan(campaign)}


def review_check(campaign) -> dict[str, Any]:
    """Per item, the decisions its policy asked for, from distinct experts; the outcomes."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            """
            SELECT c.status, count(*),
                   count(*) FILTER (WHERE r.n <> c.needed OR r.experts <> c.needed),
                   count(*) FILTER (WHERE r.n <> c.decisions)
            FROM campaigns_candidate c
            JOIN LATERAL (SELECT count(*) AS n, count(DISTINCT reviewer_id) AS experts
                          FROM review_review WHERE candidate_id = c.id AND decision <> 'skip') r ON true
            WHERE c.campaign_id = %s AND (c.decisions > 0 OR c.status <> 'in_review')
            GROUP BY c.status
            """,
            [campaign.pk],
        )
        rows = cur.fetchall()
        cur.execute(
            "SELECT count(*) FROM review_review r JOIN campaigns_candidate c ON c.id = r.candidate_id "
            "WHERE c.campaign_id = %s",
            [campaign.pk],
        )
        reviews = cur.fetchone()[0]
    decided = {s: n for s, n, _, _ in rows if s != "in_review"}
    wrong = sum(bad for s, _, bad, _ in rows if s != "in_review")
    miscounted = sum(m for *_, m in rows)
    return {
        "reviews": reviews,
        "by_status": {s: n for s, n, _, _ in rows},
        "decided": sum(decided.values()),
        "decided_wrong_count": wrong,
        "decisions_column_mismatch": miscounted,
        "ok": bool(decided) and wrong == 0 and miscounted == 0,
    }


# The list API and the campaign page ----------------------------------------------------------


def timed(call, path: str) -> dict[str, Any]:
    samples = []
    for _ in range(REPEAT):
        status, body, c_ms, s_ms = call(path)
        if status != 200:
            raise SystemExit(f"GET {path}: {status} {str(body)[:300]}")
        samples.append((c_ms, s_ms))
    return {
        "server_ms": round(statistics.median(s for _, s in samples), 2),
        "client_ms": round(statistics.median(c for c, _ in samples), 2),
        "server_all_ms": [round(s, 1) for _, s in samples],
    }


def list_times(port: int, token: str, campaign) -> dict[str, Any]:
    from django.db.models import Min

    from curation.campaigns.models import Candidate

    first = Candidate.objects.filter(campaign=campaign).aggregate(first=Min("id"))["first"]
    mid = first + CANDIDATES // 2
    client = Client(port, token)
    base = f"/api/v1/campaigns/{campaign.slug}/candidates"

    def get(path: str):
        return client.call("GET", path)

    cases = {"page_1": "?page=1", "page_10000": "?page=10000", "after_mid": f"?after={mid}"}
    detail = {name: timed(get, base + q) for name, q in cases.items()}
    out: dict[str, Any] = {f"{name}_ms": d["server_ms"] for name, d in detail.items()}
    out["detail"] = {name: {"query": cases[name], **d} for name, d in detail.items()}
    return out


def campaign_page(port: int, campaign) -> dict[str, Any]:
    """GET /campaigns/{slug}/ as the admin, logged in through the login form."""
    import requests

    base = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.get(f"{base}/accounts/login/", timeout=60).raise_for_status()
    login = session.post(
        f"{base}/accounts/login/",
        data={
            "username": "bench-admin",
            "password": PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{base}/accounts/login/"},
        allow_redirects=False,
        timeout=60,
    )
    if login.status_code != 302:
        raise SystemExit(f"login: {login.status_code}")

    def get(path: str):
        t0 = time.perf_counter()
        r = session.get(base + path, timeout=120)
        c_ms = (time.perf_counter() - t0) * 1000
        match = TIMING.search(r.headers.get("Server-Timing", ""))
        return r.status_code, r.text[:300], c_ms, float(match.group(1)) if match else float("nan")

    return timed(get, f"/campaigns/{campaign.slug}/")


# Main ----------------------------------------------------------------------------------------


SERVER_PIDS: set[int] = set()  # every gunicorn worker seen, for broker_clean()


def broker_clean() -> int:
    """Take back the tasks our gunicorn workers published (the learned critic's training, one
    per decision: no worker runs here), and nothing else: the broker's database may be shared.
    A message names its publisher in headers.origin, "gen<pid>@<host>". Returns how many."""
    import redis

    ours = {f"gen{pid}@" for pid in SERVER_PIDS}
    r = redis.Redis.from_url(BROKER)
    removed = 0
    for key in r.scan_iter(count=1000):
        if r.type(key) != b"list":
            continue
        for raw in set(r.lrange(key, 0, -1)):
            try:
                origin = json.loads(raw)["headers"].get("origin") or ""
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
            if any(origin.startswith(prefix) for prefix in ours):
                removed += r.lrem(key, 0, raw)
    return removed


def meets(run: dict[str, Any]) -> bool:
    return all(run[k]["server_p99_ms"] < GOAL_MS for k in ("next", "submit"))


def summary(run: dict[str, Any]) -> dict[str, Any]:
    """What a run prints: server p50/p99 of each request, throughput, errors, the box's load."""
    return {
        "next_ms": [run["next"]["server_p50_ms"], run["next"]["server_p99_ms"]],
        "submit_ms": [run["submit"]["server_p50_ms"], run["submit"]["server_p99_ms"]],
        "decisions_per_s": run["decisions_per_s"],
        "errors": run["errors"],
        "busy_cores_all": run["machine_load"]["busy_cores_all"],
        "busy_cores_other": run["machine_load"]["busy_cores_other"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--index", help="SQL run after each load (an index to try)")
    parser.add_argument("--seconds", type=float, default=DURATION_S, help="each flat-out run")
    parser.add_argument("--paced-seconds", type=float, default=PACED_S, help="each paced run")
    parser.add_argument("--late-seconds", type=float, default=LATE_S, help="the late-campaign run")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    db_create()
    import django

    django.setup()
    proc = None
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": device(),
        "postgres": None,
        "candidates": CANDIDATES,
        "experts": EXPERTS,
        "server": "gunicorn curation.wsgi -w 2 --threads 10, CONN_MAX_AGE=60, loopback HTTP",
        "extra_index": args.index,
        "goal": f"server p99 under {GOAL_MS:g} ms for next and submit, 20 experts paced",
        "goal_met": None,
        "headline": {},  # the paced runs' server times, what the goal is judged on
        "throughput": {},  # decisions/s of the flat-out runs: the box saturated
        "runs": [],
    }
    try:
        with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp_name:
            tmp = Path(tmp_name)
            t0 = time.perf_counter()
            env = setup(tmp)
            from django.db import connection

            with connection.cursor() as cur:
                cur.execute("SHOW server_version")
                results["postgres"] = cur.fetchone()[0]
            print(f"setup: {time.perf_counter() - t0:.1f} s", flush=True)
            port = free_port()
            for per_item in (1, 2):
                campaign = env["campaigns"][per_item]
                loaded = load(campaign.pk, per_item, args.index)
                print(f"per_item {per_item}: loaded {CANDIDATES:,} in {loaded['load_s']} s", flush=True)
                if proc is None:
                    proc = serve(port, tmp / "gunicorn.log")
                if per_item == 1:
                    one = review_run(
                        port, env["experts"][-1:], campaign.slug, ONE_EXPERT_S, proc.pid, paced=False
                    )
                    results["one_expert"] = {"per_item": 1, **one}
                    print(f"  one expert: {json.dumps(summary(one))}", flush=True)
                for paced, seconds in ((True, args.paced_seconds), (False, args.seconds)):
                    run: dict[str, Any] = {"per_item": per_item}
                    run.update(
                        review_run(port, env["experts"], campaign.slug, seconds, proc.pid, paced=paced)
                    )
                    check = review_check(campaign)  # every decision so far in this campaign
                    if per_item == 2:
                        run["every_item_two_distinct_experts"] = check["ok"]
                    run["check"] = check
                    run["load"] = loaded
                    run["queue_plan"] = queue_plan(campaign)
                    results["runs"].append(run)
                    print(f"  {EXPERTS} experts {run['mode']}: {json.dumps(summary(run))}", flush=True)
                if per_item == 1:
                    results["list"] = list_times(port, env["admin"], campaign)
                    results["campaign_page_ms"] = campaign_page(port, campaign)["server_ms"]
                    print(f"  list: {json.dumps(results['list'])}", flush=True)
                    print(f"  campaign page: {results['campaign_page_ms']} ms", flush=True)
                    results["late_campaign"] = late_run(
                        port, env["experts"], campaign, args.late_seconds, proc.pid
                    )
                    late = results["late_campaign"]
                    late = {"decided_before": late["decided_before"], **summary(late)}
                    print(f"  late campaign: {json.dumps(late)}", flush=True)
            results["queue_plan"] = results["runs"][-1]["queue_plan"]
            paced_runs = [r for r in results["runs"] if r["mode"] == "paced"]
            results["headline"] = {
                f"per_item_{r['per_item']}": {
                    f"{k}_{q}_ms": r[k][f"server_{q}_ms"] for k in ("next", "submit") for q in ("p50", "p99")
                }
                for r in paced_runs
            }
            results["goal_met"] = all(meets(r) for r in paced_runs)
            results["late_campaign_goal_met"] = meets(results["late_campaign"])
            results["throughput"] = {
                f"flat_out_per_item_{r['per_item']}_decisions_per_s": r["decisions_per_s"]
                for r in results["runs"]
                if r["mode"] == "flat_out"
            }
    finally:
        if proc is not None:
            stop(proc)
        if args.keep:
            print(f"kept: {DATABASE_URL}")
        else:
            db_drop()
        if SERVER_PIDS:
            try:
                print(f"broker: took back {broker_clean()} tasks the app published", flush=True)
            except Exception as e:  # the figures are written all the same
                print(f"broker: could not take back the app's tasks: {e}", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
