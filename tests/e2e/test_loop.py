"""The whole loop as a user runs it, with real processes: commands, a Celery worker,
the web server, the real SmolLM2 model. Once on PostgreSQL + Redis with a worker
started beside it, once on the embedded default (SQLite, filesystem queue, the
worker started by `run_campaign --wait` itself)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import psycopg
import pytest
import redis

from tests.conftest import DATA

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"

pytestmark = pytest.mark.slow

CAMPAIGN = """\
slug: tea-loop
name: Tea loop
task: instruction
source: tea
count: 4
fewshot: 2
diversity:
  topic: [brewing, kinds]
generator:
  backend: transformers
  params: {temperature: 0.8, top_p: 0.95, max_tokens: 80, seed: 7}
"""


class App:
    """One instance of Assay driven through its commands and its HTTP API."""

    def __init__(self, env: dict[str, str], tmp: Path) -> None:
        self.env, self.tmp = env, tmp
        self.procs: list[subprocess.Popen] = []
        self.base = ""

    def manage(self, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def ok(self, *args: str, timeout: int = 600) -> str:
        r = self.manage(*args, timeout=timeout)
        assert r.returncode == 0, f"{args[0]} failed: {r.stderr[-2000:]}"
        return r.stdout

    def start(self, *cmd: str, log: str) -> subprocess.Popen:
        with open(self.tmp / log, "w") as fh:
            proc = subprocess.Popen(list(cmd), cwd=ROOT, env=self.env, stdout=fh, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def serve(self) -> None:
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.start(sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload", log="web.log")
        self.base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.5)
        raise AssertionError("runserver did not start: " + (self.tmp / "web.log").read_text()[-1000:])

    def api(self, method: str, path: str, token: str = "", body: dict | None = None) -> tuple[int, object]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method)
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw.strip() else None
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def token(self, name: str, role: str) -> str:
        self.ok("create_user", name, "--role", role, "--password", f"{name}-pass-123")
        return self.ok("create_token", name).strip().splitlines()[-1]

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def _base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
        ASSAY_DATA_DIR=str(tmp / "var"),
        DJANGO_SETTINGS_MODULE="curation.settings",
    )
    return env


@pytest.fixture(params=["postgres-redis", "embedded"])
def app(request, tmp_path):
    env = _base_env(tmp_path)
    dbname = None
    if request.param == "postgres-redis":
        dbname = f"e2e_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        redis.Redis.from_url(REDIS_URL).flushdb()
        env.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{dbname}", CELERY_BROKER_URL=REDIS_URL)
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'assay.sqlite3'}"
    a = App(env, tmp_path)
    a.mode = request.param
    yield a
    a.stop()
    if dbname:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def test_the_whole_loop_runs_from_import_to_capped_export(app: App, tmp_path: Path):
    app.ok("migrate", "--noinput")
    assert "imported 10, skipped 0" in app.ok(
        "import_examples", str(DATA / "tea_train.jsonl"), "--source", "tea"
    )
    assert "imported 0, skipped 10" in app.ok(
        "import_examples", str(DATA / "tea_train.jsonl"), "--source", "tea"
    )
    app.ok(
        "import_examples", str(DATA / "tea_heldout.jsonl"), "--source", "tea-heldout", "--split", "heldout"
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(
        b'{"prompt": "fine?", "response": "a fine answer"}\n{"prompt": "caf\xe9", "response": "x"}\n'
    )
    refused = app.manage("import_examples", str(bad), "--source", "bad")
    assert refused.returncode != 0 and "bad.jsonl: line 2: not UTF-8" in refused.stderr
    assert "Traceback" not in refused.stderr

    (tmp_path / "tea.yaml").write_text(CAMPAIGN)
    app.ok("create_campaign", str(tmp_path / "tea.yaml"))
    if app.mode == "postgres-redis":  # production shape: a worker runs beside the app
        app.start(
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.celery_app",
            "worker",
            "-Q",
            "gpu,cpu",
            "--pool",
            "solo",
            "--loglevel",
            "INFO",
            log="worker.log",
        )
    run = app.manage("run_campaign", "tea-loop", "--wait", timeout=900)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "triaged" in run.stderr  # the progress bar
    shown = json.loads(app.ok("show_campaign", "tea-loop", "--json"))
    counts = shown["counts"]
    assert shown["status"] == "done"
    assert sum(counts.values()) == 4 and counts["generated"] == counts["scored"] == 0
    assert counts["in_review"] >= 1, counts

    admin, expert, viewer = app.token("ann", "admin"), app.token("eve", "expert"), app.token("vic", "viewer")
    app.serve()
    assert app.api("GET", "/api/v1/campaigns")[0] == 401
    assert app.api("GET", "/api/v1/campaigns", viewer)[0] == 200
    assert app.api("POST", "/api/v1/campaigns/tea-loop/next", viewer)[0] == 403
    status, listed = app.api("GET", "/api/v1/campaigns/tea-loop/candidates", viewer)
    assert status == 200 and listed["count"] == 4
    lineage = app.ok(
        "shell",
        "-c",
        "import json; from curation.campaigns.models import Candidate as C; "
        "print(json.dumps([dict(generator=c.generator, seed=c.seed, parents=c.parents, "
        "prompt=c.rendered_prompt, depth=c.generation_depth, sha=c.content_sha256) "
        "for c in C.objects.all()]))",
    )
    for row in json.loads(lineage.strip().splitlines()[-1]):
        assert row["generator"]["backend"] == "transformers" and row["generator"]["model"]
        assert row["seed"] is not None and len(row["parents"]) == 2 and row["depth"] == 1
        assert "Q:" in row["prompt"] and len(row["sha"]) == 64

    decided = 0
    while True:
        status, item = app.api("POST", "/api/v1/campaigns/tea-loop/next", expert)
        if status == 204:
            break
        assert status == 200
        assert (
            app.api("POST", f"/api/v1/candidates/{item['id']}/review", expert, {"decision": "accept"})[0]
            == 200
        )
        decided += 1
    assert decided == counts["in_review"]

    out = tmp_path / "export"
    export_id = app.ok(
        "export_dataset",
        "--campaign",
        "tea-loop",
        "--source",
        "tea",
        "--max-synthetic",
        "0.3",
        "--format",
        "jsonl",
        "--out",
        str(out),
    ).strip()
    assert export_id.isdigit()
    records = [json.loads(line) for line in (out / "data.jsonl").read_text().splitlines()]
    origins = [r["provenance"]["origin"] for r in records]
    assert origins.count("human") == 10
    assert 1 <= len(records) - 10 <= 4  # approved synthetic, capped at floor(0.3 * 10 / 0.7) = 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["synthetic_fraction"]["overall"] <= 0.3
    heldout = {json.loads(line)["prompt"] for line in (DATA / "tea_heldout.jsonl").read_text().splitlines()}
    assert not heldout & {r.get("prompt") for r in records}
    status, served = app.api("GET", f"/api/v1/exports/{export_id}", viewer)
    assert status == 200 and served == manifest
    status, exports = app.api("GET", "/api/v1/exports", admin)
    assert status == 200 and [e["id"] for e in exports] == [int(export_id)]
