"""One instance of Assay driven as a user drives it, with real processes: its commands,
Celery workers, the web server; on PostgreSQL + Redis (a fresh database, a flushed Redis
database) or on the embedded default (SQLite, the filesystem queue)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import redis

from curation.core.local_worker import worker_command

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"


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

    def worker(self, *, log: str = "worker.log", queues: str = "gpu,cpu") -> subprocess.Popen:
        """A worker as Assay starts one (`make worker`, `make run`): solo pool, beat (the
        sweeper) inside, in its own process group so that a test can kill it with everything
        it started."""
        with open(self.tmp / log, "a") as fh:
            proc = subprocess.Popen(
                worker_command(queues, f"{log}@%h"),
                cwd=ROOT,
                env=self.env,
                stdout=fh,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGKILL, the whole process group (the worker and its embedded beat): no warm
        shutdown, no acknowledgement, nothing cleaned up: what an OOM kill or a lost node does."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)

    def sql(self, query: str, *params: object) -> list[tuple]:
        """Read the app's database directly (a poll every fraction of a second, cheaper than a
        `manage.py shell` process). `%s` placeholders on both engines."""
        url = self.env["DATABASE_URL"]
        if url.startswith("sqlite:///"):
            with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)) as conn:
                return conn.execute(query.replace("%s", "?"), params).fetchall()
        with psycopg.connect(url.replace("postgres://", "postgresql://", 1)) as conn:
            return conn.execute(query, params).fetchall()

    def show(self, slug: str) -> dict:
        return json.loads(self.ok("show_campaign", slug, "--json").strip().splitlines()[-1])

    def wait_until(self, slug: str, pred, seconds: float, every: float = 1.0) -> dict:
        deadline = time.monotonic() + seconds
        shown = self.show(slug)
        while not pred(shown):
            if time.monotonic() > deadline:
                raise AssertionError(f"{slug} after {seconds} s: {json.dumps(shown)[:600]}")
            time.sleep(every)
            shown = self.show(slug)
        return shown

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
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


@contextlib.contextmanager
def make_app(mode: str, tmp_path: Path, **env_extra: str) -> Iterator[App]:
    """A fresh instance: "postgres-redis" (a new database, Redis database 14 flushed) or
    "embedded" (SQLite and the filesystem queue under tmp_path)."""
    env = {**_base_env(tmp_path), **env_extra}
    dbname = None
    if mode == "postgres-redis":
        dbname = f"e2e_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{dbname}"')
        redis.Redis.from_url(env.get("CELERY_BROKER_URL") or REDIS_URL).flushdb()
        env.setdefault("CELERY_BROKER_URL", REDIS_URL)
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{dbname}"
    else:
        env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'assay.sqlite3'}"
    a = App(env, tmp_path)
    a.mode = mode
    try:
        yield a
    finally:
        a.stop()
        if dbname:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
