"""The export page in Chromium: preview the mixture in place (htmx), run it, watch the job
page follow the worker's progress without a reload, open the export and download a file."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from playwright.sync_api import expect

from curation.exports.jobs import export_job_run
from curation.exports.models import ExportJob
from tests.ui.test_review_page import browser, log_in, page  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_preview_run_progress_and_download(page, live_server, alice, approved_tea, export_root, tmp_path):  # noqa: F811
    page.goto(f"{live_server.url}/exports/new")
    log_in(page, "alice")
    page.select_option("#id_campaigns", ["tea"])
    page.select_option("#id_sources", ["tea"])
    page.fill("#id_max_synthetic", "0.3")
    page.fill("#id_balance_by", "topic")
    page.fill("#id_folder", "tea-browser")
    page.evaluate("window.__same_page = true")

    page.click("button[data-preview]")
    expect(page.locator("#preview [data-stratum=brewing] [data-share]")).to_have_text("20.0%")
    expect(page.locator("#preview [data-total]")).to_have_text("12")
    assert page.evaluate("window.__same_page") is True  # swapped in place by htmx
    assert not ExportJob.objects.exists()

    page.click("button[data-run]")
    expect(page.locator("#job")).to_have_attribute("data-status", "queued")
    job = ExportJob.objects.get()
    page.evaluate("window.__same_page = true")

    # The worker, here in a thread of the test: the page polls its progress.
    def work() -> None:
        try:
            export_job_run(job_id=job.pk)
        finally:
            connection.close()  # the thread's own connection, or the test database cannot be dropped

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(120)
    expect(page.locator("#job")).to_have_attribute("data-status", "done", timeout=15_000)
    expect(page.locator("#job [data-progress=done]")).to_have_text("12")
    assert page.evaluate("window.__same_page") is True

    page.click("#job a[data-export]")
    job.refresh_from_db()
    expect(page.locator("main > h1")).to_contain_text(f"Export {job.export_id}")
    expect(page.locator("[data-datasheet] table").first).to_be_visible()
    with page.expect_download() as download:
        page.click("[data-file='data.jsonl'] a")
    saved = tmp_path / "downloaded.jsonl"
    download.value.save_as(saved)
    assert saved.read_bytes() == (export_root / "tea-browser" / "data.jsonl").read_bytes()
    assert len(saved.read_text().splitlines()) == 12
