"""The settings module as production starts it: in a fresh process, from the environment."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Everything settings.py reads, cleared so the developer's or CI's environment cannot leak in.
CLEARED = (
    "DEBUG",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "ASSAY_HTTPS",
    "SECURE_HSTS_SECONDS",
    "DATABASE_URL",
    "DATABASE_URL_FILE",
    "CELERY_BROKER_URL",
    "ASSAY_DATA_DIR",
    "LOG_LEVEL",
)


@pytest.fixture
def production_env(tmp_path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(
        DJANGO_SETTINGS_MODULE="curation.settings",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="assay.example.com",
        ASSAY_HTTPS="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        ASSAY_DATA_DIR=str(tmp_path),
    )
    return env


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _one_error_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode != 0
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_the_production_settings_pass_djangos_deployment_checks(production_env):
    r = manage(production_env, "check", "--deploy", "--fail-level", "WARNING")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout


def test_a_bad_boolean_stops_start_up_with_one_line_naming_it(production_env):
    line = _one_error_line(manage({**production_env, "DEBUG": "maybe"}, "check"))
    assert "DEBUG" in line and "maybe" in line


def test_a_bad_integer_stops_start_up_with_one_line_naming_it(production_env):
    line = _one_error_line(manage({**production_env, "ASSAY_LEASE_SECONDS": "fifteen minutes"}, "check"))
    assert "ASSAY_LEASE_SECONDS" in line


def test_the_secret_key_can_be_read_from_a_file(production_env, tmp_path):
    secret = secrets.token_urlsafe(60)
    path = tmp_path / "secret_key.txt"
    path.write_text(secret + "\n", encoding="utf-8")
    env = {k: v for k, v in production_env.items() if k != "SECRET_KEY"}
    env["SECRET_KEY_FILE"] = str(path)
    r = manage(env, "shell", "-v", "0", "-c", "from django.conf import settings; print(settings.SECRET_KEY)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == secret


def test_a_missing_secret_file_stops_start_up_with_one_line(production_env, tmp_path):
    env = {k: v for k, v in production_env.items() if k != "SECRET_KEY"}
    env["SECRET_KEY_FILE"] = str(tmp_path / "nowhere")
    assert "SECRET_KEY_FILE" in _one_error_line(manage(env, "check"))


def test_an_empty_value_counts_as_unset(production_env, tmp_path):
    # A blank `LOG_LEVEL=` line in an env file must mean the default, not a broken logger.
    env = {**production_env, "LOG_LEVEL": "", "ASSAY_DATA_DIR": str(tmp_path)}
    r = manage(env, "shell", "-v", "0", "-c", "from django.conf import settings; print(settings.LOG_LEVEL)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "INFO"


def test_a_database_url_with_an_unknown_scheme_is_one_line(production_env):
    line = _one_error_line(manage({**production_env, "DATABASE_URL": "mongo://db/assay"}, "check"))
    assert line.startswith("error: DATABASE_URL")


def test_an_unreachable_database_is_one_line_not_a_traceback(production_env):
    # Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    env = {**production_env, "DATABASE_URL": "postgres://assay:secret-pw@127.0.0.1:1/assay"}
    line = _one_error_line(manage(env, "migrate", "--noinput"))
    assert line.startswith("error: database:")
    assert "secret-pw" not in line
