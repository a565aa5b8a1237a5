"""The export job API for training jobs (README "HTTP API"): an admin queues an export and
previews it; a job polls it and downloads its files with a read-only `exports:read` token,
which can do nothing else, on any route, present or future."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from curation.accounts.models import ApiToken, Scope
from curation.accounts.services import token_create, user_create
from curation.exports.jobs import export_job_run
from curation.exports.models import ExportJob, JobStatus

TEA = {"campaigns": ["tea"], "sources": ["tea"], "max_synthetic": 0.3}


@pytest.fixture
def trainer(db):
    """A training job's account: a viewer whose token only reads exports."""
    user = user_create(username="trainer", role="viewer")
    return token_create(username=user.username, scope=Scope.EXPORTS_READ)


def test_an_admin_queues_an_export_and_a_training_job_polls_and_downloads_it(
    api, approved_tea, alice, token, trainer, export_root
):
    status, job = api.post("/api/v1/exports", token(alice), {**TEA, "folder": "tea-v1", "format": "jsonl"})
    assert status == 202, job
    assert job["status"] == "queued" and job["export"] is None and job["error"] == ""
    assert job["progress"] == {"done": 0, "total": 14}
    assert job["folder"] == "tea-v1" and "out" not in job["params"]
    assert job["url"] == f"/api/v1/exports/jobs/{job['id']}"

    status, polled = api.get(job["url"], trainer)
    assert status == 200 and polled["status"] == "queued"

    export_job_run(job_id=job["id"])  # what the cpu worker does with the job's message

    status, polled = api.get(job["url"], trainer)
    assert status == 200, polled
    assert polled["status"] == "done" and polled["progress"] == {"done": 14, "total": 14}
    export_id = polled["export"]
    status, manifest = api.get(f"/api/v1/exports/{export_id}", trainer)
    assert status == 200 and manifest["counts"]["total"] == 14
    status, data = api.get(f"/api/v1/exports/{export_id}/files/data.jsonl", trainer)
    assert status == 200
    assert data == (export_root / "tea-v1" / "data.jsonl").read_bytes()
    assert len(data.splitlines()) == 14
    status, listed = api.get("/api/v1/exports", trainer)
    assert status == 200 and [e["id"] for e in listed] == [export_id]


def test_a_failed_job_reads_as_failed_with_its_error(api, approved_tea, alice, token, trainer, export_root):
    _, job = api.post("/api/v1/exports", token(alice), {**TEA, "folder": "tea-late"})
    (export_root / "tea-late").mkdir()
    (export_root / "tea-late" / "other.txt").write_text("someone else's")
    export_job_run(job_id=job["id"])
    status, polled = api.get(job["url"], trainer)
    assert status == 200
    assert polled["status"] == "failed" and polled["export"] is None
    assert "exists and is not empty" in polled["error"]


def test_the_preview_says_what_an_export_would_hold(api, approved_tea, alice, token):
    status, preview = api.post("/api/v1/exports/preview", token(alice), {**TEA, "balance_by": "topic"})
    assert status == 200, preview
    assert preview["counts"] == {"human": 10, "synthetic": 2, "total": 12}
    assert preview["counts_by_stratum"]["storage"] == {"human": 2, "synthetic": 0}
    assert preview["policy"]["from"]["max_synthetic"] == "--max-synthetic"
    assert set(preview["synthetic_fraction"]["by_stratum"]) == {"brewing", "kinds", "storage"}
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({**TEA, "campaigns": ["nope"], "folder": "x"}, 404, "no campaign 'nope'"),
        ({**TEA, "sources": ["tea-heldout"], "folder": "x"}, 400, "source 'tea-heldout' is held-out"),
        ({**TEA, "max_synthetic": 2, "folder": "x"}, 400, "max_synthetic must be at least 0 and below 1"),
        ({**TEA, "folder": "../../etc"}, 400, "give a plain folder name"),
        ({**TEA, "folder": "a/b"}, 400, "give a plain folder name"),
        ({**TEA, "folder": "x", "format": "csv"}, 400, "format:"),
        ({**TEA}, 400, "folder:"),
    ],
)
def test_bad_input_is_refused_at_once_and_queues_nothing(
    api, approved_tea, alice, token, export_root, body, status, detail
):
    got, answer = api.post("/api/v1/exports", token(alice), body)
    assert got == status, answer
    assert detail in answer["detail"]
    assert not ExportJob.objects.exists()
    assert list(export_root.iterdir()) == []


def test_a_folder_being_written_is_a_409(api, approved_tea, alice, token, export_root):
    assert api.post("/api/v1/exports", token(alice), {**TEA, "folder": "busy"})[0] == 202
    status, answer = api.post("/api/v1/exports", token(alice), {**TEA, "folder": "busy"})
    assert status == 409 and "is being written by export job" in answer["detail"]
    assert ExportJob.objects.filter(status=JobStatus.QUEUED).count() == 1


def test_an_unknown_job_is_a_404(api, alice, token):
    assert api.get("/api/v1/exports/jobs/999999", token(alice)) == (404, {"detail": "no export job 999999"})


# Token scopes.


def test_an_exports_read_token_of_an_admin_may_read_exports_and_nothing_else(
    api, approved_tea, alice, export_root
):
    raw = token_create(username="alice", scope=Scope.EXPORTS_READ)
    assert api.get("/api/v1/exports", raw)[0] == 200
    for method, path, body in [
        ("POST", "/api/v1/exports", {**TEA, "folder": "x"}),
        ("POST", "/api/v1/exports/preview", TEA),
        ("GET", "/api/v1/campaigns", None),
        ("POST", "/api/v1/campaigns/tea/next", {}),
    ]:
        status, answer = api.call(method, path, raw, body)
        assert status == 403, (path, answer)
        assert "exports:read" in answer["detail"]
    assert not ExportJob.objects.exists()
    # The same admin with an unscoped token: everything the role allows.
    all_scope = token_create(username="alice")
    assert api.get("/api/v1/campaigns", all_scope)[0] == 200


def test_no_route_outside_the_exports_reads_lets_an_exports_read_token_through(
    api, client, approved_tea, trainer
):
    """Every route the API has, new ones included: the scope is checked where every token is."""
    schema = json.loads(client.get("/api/v1/openapi.json").content)
    checked = 0
    for path, operations in schema["paths"].items():
        for method in operations:
            concrete = re.sub(r"\{[^}]+\}", "1", path)
            status, answer = api.call(method.upper(), concrete, trainer, {} if method != "get" else None)
            readable = method == "get" and re.match(r"^/api/v1/exports(/|$)", path)
            if readable:
                assert status != 403, (method, path, answer)
            else:
                assert status == 403, (method, path, answer)
                assert "exports:read" in answer["detail"]
            checked += 1
    assert checked >= 15


def test_create_token_takes_a_scope_and_prints_the_token_alone_on_the_last_line(charlie):
    out, err = StringIO(), StringIO()
    call_command("create_token", "charlie", "--scope", "exports:read", stdout=out, stderr=err)
    raw = out.getvalue().strip().splitlines()[-1]
    assert raw.startswith("asy_") and " " not in raw
    assert "exports:read" in err.getvalue()
    assert ApiToken.objects.get(user=charlie).scope == "exports:read"
    out = StringIO()
    call_command("create_token", "charlie", stdout=out, stderr=StringIO())
    assert ApiToken.objects.filter(user=charlie, scope="all").count() == 1
    with pytest.raises(CommandError):
        call_command(
            "create_token", "charlie", "--scope", "campaigns:write", stdout=StringIO(), stderr=StringIO()
        )
