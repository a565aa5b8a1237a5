"""A real Argilla 2.8.0 server for the tests, in its own virtual environment.

`make argilla-server` (a prerequisite of `make test`) builds `.venv-argilla`; Argilla's
server pins old libraries, so it never shares Assay's `.venv`. The session fixture
`argilla_server` gives each test session a fresh SQLite database in a temporary folder,
migrates it, creates an owner with a known API key and starts the server on a free
loopback port with the in-memory search engine (`memory_search.py`, no Elasticsearch)
and the job queues on fakeredis (`launch.py`). It yields {"url", "api_key"} and stops
the server's process group at the end. Without `.venv-argilla` the tests that use it
are skipped, unless ASSAY_REQUIRE_ARGILLA=1 says it must be there.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
PYTHON = ROOT / ".venv-argilla" / "bin" / "python"
OWNER_API_KEY = "assay-test-owner-api-key"
START_TIMEOUT_S = 60


def _python_or_skip() -> Path:
    if PYTHON.exists():
        return PYTHON
    if os.environ.get("ASSAY_REQUIRE_ARGILLA"):
        pytest.fail(
            f"the Argilla test server is required here (ASSAY_REQUIRE_ARGILLA) but {PYTHON} is missing"
        )
    pytest.skip("the Argilla test server is not installed (make argilla-server)")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARGILLA_")}
    env.update(
        ARGILLA_HOME_PATH=str(home),
        ARGILLA_DATABASE_URL=f"sqlite+aiosqlite:///{home / 'argilla.db'}?check_same_thread=False",
        ARGILLA_SEARCH_ENGINE="memory",
        # Never reached: launch.py puts the queues on fakeredis; named so nothing falls back to db 0.
        ARGILLA_REDIS_URL="redis://127.0.0.1:6379/13",
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_OFFLINE="1",
        PYTHONPATH=str(HERE),
        PYTHONUNBUFFERED="1",
    )
    return env


def _cli(python: Path, env: dict[str, str], log: Path, *args: str) -> None:
    with log.open("a") as out:
        done = subprocess.run(
            [str(python), "-m", "argilla_server", *args], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    if done.returncode != 0:
        tail = log.read_text()[-3000:]
        pytest.fail(f"argilla_server {' '.join(args[:3])} failed (exit {done.returncode}):\n{tail}")


def _wait_until_up(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the Argilla server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/status", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"the Argilla server did not answer within {START_TIMEOUT_S}s:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="session")
def argilla_server(tmp_path_factory):
    """A running Argilla 2.8.0 server: {"url": "http://127.0.0.1:PORT", "api_key": owner's key}."""
    python = _python_or_skip()
    home = tmp_path_factory.mktemp("argilla")
    env = _server_env(home)
    log = home / "server.log"
    _cli(python, env, log, "database", "migrate")
    _cli(
        python,
        env,
        log,
        "database",
        "users",
        "create",
        "--username",
        "owner",
        "--first-name",
        "Owner",
        "--password",
        "owner-pass-123",
        "--role",
        "owner",
        "--api-key",
        OWNER_API_KEY,
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("a") as out:
        # Its own session (process group), stopped whole at the end.
        process = subprocess.Popen(
            [str(python), str(HERE / "launch.py"), "127.0.0.1", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_up(process, url, log)
        yield {"url": url, "api_key": OWNER_API_KEY, "log": str(log)}
    finally:
        _stop(process)
