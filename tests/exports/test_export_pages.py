"""The export pages through Django's test client: who may see and do what, the preview
(plain POST and htmx partial), Run -> the job page -> the export page with its files,
datasheet and manifest, downloads, escaping, and the Django admin's export screens. The
same flow in Chromium is tests/ui/test_export_browser.py."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from curation.exports.jobs import export_job_create, export_job_run
from curation.exports.models import Export, ExportJob, JobStatus
from curation.exports.services import export_create
from curation.sources.services import examples_import

FORM = {
    "campaigns": ["tea"],
    "sources": ["tea"],
    "max_synthetic": "0.3",
    "seed": "0",
    "fmt": "jsonl",
    "split": "train",
}


def page(response) -> str:
    return response.content.decode()


def done_job(folder: str = "tea-v1", **extra) -> ExportJob:
    job = export_job_create(
        folder=folder, campaign_slugs=["tea"], source_names=["tea"], fmt="jsonl", max_synthetic=0.3, **extra
    )
    export_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.error
    return job


@pytest.mark.parametrize(
    "url", ["/exports/", "/exports/new", "/exports/jobs/1/", "/exports/1/", "/exports/1/files/data.jsonl"]
)
def test_an_anonymous_visitor_is_sent_to_log_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("persona", ["bob", "charlie"])
def test_experts_and_viewers_read_exports_but_cannot_create_one(
    request, client, approved_tea, export_root, persona
):
    job = done_job()
    client.force_login(request.getfixturevalue(persona))
    listing = client.get("/exports/")
    assert listing.status_code == 200
    assert f'href="/exports/{job.export_id}/"' in page(listing)
    assert "data-new-export" not in page(listing)
    assert client.get(f"/exports/{job.export_id}/").status_code == 200
    assert client.get(f"/exports/jobs/{job.pk}/").status_code == 200
    assert client.get(f"/exports/{job.export_id}/files/data.jsonl").status_code == 200
    assert client.get("/exports/new").status_code == 403
    refused = client.post("/exports/new", {**FORM, "folder": "theirs", "action": "run"})
    assert refused.status_code == 403
    assert ExportJob.objects.count() == 1


def test_the_home_page_and_the_nav_lead_to_the_exports(client, alice, db):
    client.force_login(alice)
    home = page(client.get("/"))
    assert 'href="/exports/"' in home and 'href="/exports/new"' in home


def test_the_form_lists_the_campaigns_and_sources(client, alice, approved_tea, export_root):
    client.force_login(alice)
    form = page(client.get("/exports/new"))
    assert '<option value="tea">' in form and '<option value="tea-heldout">' in form
    assert str(export_root) in form
    assert 'hx-post="/exports/new"' in form  # Preview swaps in place with htmx ...
    assert 'name="action" value="preview"' in form  # ... and posts the whole page without JavaScript
    assert "<script>" not in form and "onclick" not in form


def test_preview_shows_the_mixture_per_stratum_against_the_cap_and_writes_nothing(
    client, alice, approved_tea, export_root
):
    client.force_login(alice)
    response = client.post(
        "/exports/new", {**FORM, "balance_by": "topic", "folder": "tea-v1", "action": "preview"}
    )
    assert response.status_code == 200
    html = page(response)
    assert 'data-stratum="brewing"' in html and 'data-stratum="storage"' in html
    assert "20.0%" in html  # brewing: 1 synthetic of 5
    assert "cap 30.0%" in html
    assert 'data-policy="max_synthetic"' in html and "given here (--max-synthetic)" in html
    assert "the mixture of tea" in html or "none: no campaign" in html  # where max_depth came from
    assert not ExportJob.objects.exists() and not Export.objects.exists()
    assert list(export_root.iterdir()) == []


def test_the_htmx_preview_is_the_partial_alone(client, alice, approved_tea, export_root):
    client.force_login(alice)
    response = client.post("/exports/new", {**FORM, "action": "preview"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = page(response)
    assert html.lstrip().startswith('<section id="preview"') and "<html" not in html
    assert "data-total>14<" in html


def test_a_refused_preview_says_why(client, alice, approved_tea, export_root):
    client.force_login(alice)
    bad = {**FORM, "sources": ["tea", "tea-heldout"], "action": "preview"}
    response = client.post("/exports/new", bad)
    assert response.status_code == 400
    assert "source &#x27;tea-heldout&#x27; is held-out" in page(response)
    # htmx swaps only 2xx answers: the partial carries the error with a 200.
    response = client.post("/exports/new", bad, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "is held-out" in page(response)


def test_run_queues_the_job_and_its_page_follows_it_to_the_export(client, alice, approved_tea, export_root):
    client.force_login(alice)
    response = client.post("/exports/new", {**FORM, "folder": "tea-v1", "action": "run"})
    job = ExportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/exports/jobs/{job.pk}/"
    assert job.created_by == alice and job.out_dir == str(export_root / "tea-v1")

    queued = page(client.get(f"/exports/jobs/{job.pk}/"))
    assert 'data-status="queued"' in queued
    assert f'hx-get="/exports/jobs/{job.pk}/live"' in queued  # polled while live
    assert "0</strong> of 14 rows" in queued

    export_job_run(job_id=job.pk)

    live = page(client.get(f"/exports/jobs/{job.pk}/live"))
    job.refresh_from_db()
    assert 'data-status="done"' in live and "hx-get" not in live  # done: the polling stops
    assert f'href="/exports/{job.export_id}/"' in live
    assert "14</strong> of 14 rows" in live


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        ("../../etc", "give a plain folder name"),
        ("a/b", "give a plain folder name"),
        ("", "give a plain folder name"),
    ],
)
def test_run_refuses_a_folder_outside_the_export_root(
    client, alice, approved_tea, export_root, folder, message
):
    client.force_login(alice)
    response = client.post("/exports/new", {**FORM, "folder": folder, "action": "run"})
    assert response.status_code == 400
    assert message in page(response)
    assert not ExportJob.objects.exists()
    assert list(export_root.iterdir()) == []


def test_run_refuses_a_folder_in_use_and_keeps_what_was_typed(client, alice, approved_tea, export_root):
    client.force_login(alice)
    assert client.post("/exports/new", {**FORM, "folder": "busy", "action": "run"}).status_code == 302
    response = client.post("/exports/new", {**FORM, "folder": "busy", "seed": "7", "action": "run"})
    assert response.status_code == 409
    html = page(response)
    assert "is being written by export job" in html
    assert 'name="seed" value="7"' in html and 'value="busy"' in html
    assert ExportJob.objects.count() == 1


def test_a_failed_job_shows_its_error_text_escaped(client, charlie, approved_tea, export_root):
    job = export_job_create(folder="tea-late", campaign_slugs=["tea"], source_names=["tea"], fmt="jsonl")
    ExportJob.objects.filter(pk=job.pk).update(status=JobStatus.FAILED, error="<b>disk</b> full")
    client.force_login(charlie)
    html = page(client.get(f"/exports/jobs/{job.pk}/"))
    assert "&lt;b&gt;disk&lt;/b&gt; full" in html and "<b>disk</b>" not in html
    assert "hx-get" not in html
    listing = page(client.get("/exports/"))
    assert "&lt;b&gt;disk&lt;/b&gt; full" in listing


def test_the_export_page_shows_the_summary_files_datasheet_and_manifest(
    client, charlie, approved_tea, export_root
):
    job = done_job(balance_by="topic")
    export = job.export
    client.force_login(charlie)
    html = page(client.get(f"/exports/{export.pk}/"))
    assert 'data-stratum="kinds"' in html and "cap 30.0%" in html
    for f in export.files:
        assert f'href="/exports/{export.pk}/files/{f["name"]}"' in html
        assert f["sha256"] in html
        assert f">{f['size']}<" in html
    assert 'data-datasheet="DATASHEET.md"' in html
    sheet = html.split('data-datasheet="DATASHEET.md"')[1].split("</details>")[0]
    # Markdown rendered as HTML, tables included, its headings one level under the page's one <h1>.
    assert "<h2>Datasheet</h2>" in sheet and "<h3>Sources</h3>" in sheet and "<table>" in sheet
    assert html.count("<h1") == 1
    manifest = html.split("data-manifest>")[1].split("</pre>")[0]
    assert "\n  &quot;counts&quot;: {\n" in manifest  # pretty-printed (and escaped)
    assert f'href="/exports/jobs/{job.pk}/"' in html


def test_untrusted_text_in_a_datasheet_and_manifest_is_shown_as_text(
    client, charlie, approved_tea, export_root, tmp_path
):
    rows = tmp_path / "evil.jsonl"
    rows.write_text(json.dumps({"prompt": "Is this safe?", "response": "Mostly.", "topic": "brewing"}) + "\n")
    examples_import(path=rows, source_name="evil", split="train", license='<img src=x onerror="alert(1)">')
    export = export_create(
        campaign_slugs=["tea"], source_names=["tea", "evil"], fmt="jsonl", out=export_root / "e"
    )
    client.force_login(charlie)
    html = page(client.get(f"/exports/{export.pk}/"))
    assert "<img src=x" not in html
    assert "&lt;img src=x" in html


def test_a_download_is_the_file_and_a_changed_file_is_refused(client, charlie, approved_tea, export_root):
    export = done_job().export
    client.force_login(charlie)
    response = client.get(f"/exports/{export.pk}/files/data.jsonl")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="data.jsonl"'
    assert b"".join(response.streaming_content) == (export_root / "tea-v1" / "data.jsonl").read_bytes()
    assert client.get(f"/exports/{export.pk}/files/no-such.jsonl").status_code == 404
    assert client.get(f"/exports/{export.pk}/files/../../etc/passwd").status_code == 404
    with open(export_root / "tea-v1" / "data.jsonl", "a") as fh:
        fh.write("{}\n")
    assert client.get(f"/exports/{export.pk}/files/data.jsonl").status_code == 404


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_the_list_costs_the_same_queries_for_more_exports_and_jobs(
    client, charlie, approved_tea, export_root
):
    done_job("one")
    client.force_login(charlie)
    few = _queries(client, "/exports/")
    for name in ("two", "three", "four"):
        done_job(name)
    export_job_create(folder="five", campaign_slugs=["tea"], source_names=["tea"], fmt="jsonl")
    assert _queries(client, "/exports/") == few


def test_the_django_admin_links_each_export_to_its_page_and_adds_none(
    client, alice, approved_tea, export_root
):
    job = done_job()
    client.force_login(alice)
    changelist = page(client.get("/admin/exports/export/"))
    assert f'href="/exports/{job.export_id}/"' in changelist
    assert "/admin/exports/export/add/" not in changelist
    assert client.get("/admin/exports/export/add/").status_code == 403
    change = page(client.get(f"/admin/exports/export/{job.export_id}/change/"))
    assert "\n  &quot;counts&quot;: {\n" in change  # the manifest pretty-printed
    jobs = client.get("/admin/exports/exportjob/")
    assert jobs.status_code == 200 and f'href="/exports/jobs/{job.pk}/"' in page(jobs)
    assert client.get("/admin/exports/exportjob/add/").status_code == 403
    assert client.get(f"/admin/exports/exportjob/{job.pk}/change/").status_code == 200
