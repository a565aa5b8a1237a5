"""Export jobs (curation/exports/jobs.py): created after the export's own checks, written by
the `workers.export` task (run here in-process with a JSON round-trip of its arguments),
failing visibly, and repaired by the sweeper when their worker is gone. The test with a
real worker process killed mid-export is test_export_job_worker.py."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from curation.core.errors import Conflict, InvalidInput, NotFound
from curation.core.models import WorkerHeartbeat
from curation.core.sweeper import sweep
from curation.exports import jobs
from curation.exports.jobs import export_folder, export_job_create, export_jobs_sweep
from curation.exports.models import Export, ExportJob, JobStatus
from curation.exports.services import export_create
from curation.exports.tasks import export as export_task

TEA = {"campaign_slugs": ["tea"], "source_names": ["tea"], "fmt": "jsonl", "max_synthetic": 0.3}


def run_task(job: ExportJob) -> str:
    """The task as a worker runs it: its arguments through JSON, then the one service call."""
    (job_id,) = json.loads(json.dumps([job.pk]))
    return export_task.run(job_id)


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if ".writing-" in p.name)


def abandoned(job: ExportJob, *, attempts: int = 1) -> None:
    """The job as a worker leaves it when SIGKILLed mid-export: running, claimed, its lease
    run out (nobody renews it any more)."""
    ExportJob.objects.filter(pk=job.pk).update(
        status=JobStatus.RUNNING,
        claimed_by="gone-host:4242:deadbeef",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
        attempts=attempts,
        started_at=timezone.now() - timedelta(minutes=2),
    )


def test_a_job_writes_the_export_and_reports_its_progress(
    approved_tea, alice, export_root, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as published:
        job = export_job_create(folder="tea-v1", user=alice, **TEA)
    assert len(published) == 1  # its message, once the row is committed
    assert job.status == JobStatus.QUEUED
    assert job.out_dir == str(export_root / "tea-v1")
    assert job.rows_total == 14  # the preview's count, shown before a row is written
    assert job.params == {
        **TEA,
        "out": str(export_root / "tea-v1"),
        "balance_by": None,
        "max_depth": None,
        "max_per_generator": None,
        "ladder": None,
        "seed": 0,
        "split": "train",
    }

    assert run_task(job) == "done"

    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.attempts == 1 and job.error == ""
    assert (job.rows_done, job.rows_total) == (14, 14)
    assert job.claimed_by and job.lease_expires_at is None and job.finished_at
    export = job.export
    assert export.created_by == alice
    assert export.out_dir == job.out_dir
    assert export.manifest["counts"]["total"] == 14
    names = {f["name"] for f in export.files}
    assert {"data.jsonl", "manifest.json", "DATASHEET.md"} <= names
    assert len((export_root / "tea-v1" / "data.jsonl").read_text().splitlines()) == 14
    assert leftovers(export_root) == []

    # The message again (a redelivery, a duplicate): nothing to claim, nothing written twice.
    assert run_task(job) == "not claimable"
    assert Export.objects.count() == 1


def test_progress_is_written_at_most_once_a_second_and_always_at_the_end(approved_tea, export_root):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    job = export_job_create(folder="tea-progress", **TEA)
    job = jobs._claim(job.pk)
    meter = jobs._Progress(job)
    with CaptureQueriesContext(connection) as ctx:
        for done in range(1000, 50_001, 1000):  # 50 calls, as export_create makes them, within a second
            meter(done, 50_500)
        meter(50_500, 50_500)
    writes = [q for q in ctx.captured_queries if q["sql"].startswith('UPDATE "exports_exportjob"')]
    assert len(writes) == 2  # the first, then the last
    job.refresh_from_db()
    assert (job.rows_done, job.rows_total) == (50_500, 50_500)


def test_a_worker_that_lost_its_job_stops_writing(approved_tea, export_root):
    job = jobs._claim(export_job_create(folder="tea-lost", **TEA).pk)
    meter = jobs._Progress(job)
    meter(1000, 5000)
    ExportJob.objects.filter(pk=job.pk).update(claimed_by="another-host:1:cafe")  # handed on meanwhile
    meter.last = 0.0
    with pytest.raises(jobs.LeaseLost):
        meter(2000, 5000)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"campaign_slugs": ["nope"]}, "no campaign 'nope'"),
        ({"source_names": ["tea", "tea-heldout"]}, "source 'tea-heldout' is held-out"),
        ({"max_synthetic": 1.5}, "max_synthetic must be at least 0 and below 1"),
        ({"max_depth": 0}, "max_depth must be at least 1"),
        ({"balance_by": "colour"}, "balance_by colour: no exported row has a metadata field 'colour'"),
        ({"fmt": "csv"}, "format 'csv': this version writes jsonl, parquet, hf"),
        ({"ladder": [0.1, 0.5]}, "ladder steps must lie between 0 and the cap 0.3"),
        ({"seed": "many"}, "seed: Input should be a valid integer"),
        ({"colour": "blue"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_bad_input_is_refused_at_creation_with_the_exports_own_message(
    approved_tea, export_root, params, message
):
    with pytest.raises((InvalidInput, NotFound)) as caught:
        export_job_create(folder="tea-bad", **{**TEA, **params})
    assert message in str(caught.value)
    assert not ExportJob.objects.exists()
    assert list(export_root.iterdir()) == []


def test_nothing_to_export_is_refused_at_creation(tea_in_review, export_root):
    with pytest.raises(InvalidInput, match="nothing to export"):
        export_job_create(folder="empty", campaign_slugs=["tea"], fmt="jsonl")
    assert not ExportJob.objects.exists()


@pytest.mark.parametrize(
    "name",
    [
        "../escape",
        "a/b",
        "/etc",
        "..",
        ".hidden",
        "a..b",
        "",
        " ",
        "x" * 129,
        "tea\\v1",
        "tea v1",
        "naïve",
        "a\x00b",
    ],
)
def test_a_web_folder_name_cannot_leave_the_export_root(approved_tea, export_root, name):
    with pytest.raises(InvalidInput, match="folder"):
        export_job_create(folder=name, **TEA)
    assert not ExportJob.objects.exists()
    assert list(export_root.iterdir()) == []
    assert not (export_root.parent / "escape").exists()


def test_a_symlink_planted_in_the_export_root_is_not_followed_out(approved_tea, export_root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (export_root / "link").symlink_to(outside)
    with pytest.raises(InvalidInput, match="outside the export folder"):
        export_job_create(folder="link", **TEA)
    assert not ExportJob.objects.exists()


def test_a_plain_name_is_a_child_of_the_export_root(export_root):
    assert export_folder(name="faq-v1.2_final") == export_root / "faq-v1.2_final"


def test_a_folder_that_is_not_empty_or_already_exported_is_refused(approved_tea, export_root):
    (export_root / "used").mkdir()
    (export_root / "used" / "notes.txt").write_text("mine")
    with pytest.raises(InvalidInput, match="folder 'used' exists and is not empty"):
        export_job_create(folder="used", **TEA)
    export_create(campaign_slugs=["tea"], source_names=["tea"], fmt="jsonl", out=export_root / "old")
    (export_root / "old").rename(export_root / "moved")  # the files moved away; the record stays
    with pytest.raises(InvalidInput, match="folder 'old' holds export"):
        export_job_create(folder="old", **TEA)
    assert not ExportJob.objects.exists()


def test_one_live_job_per_folder(approved_tea, export_root):
    first = export_job_create(folder="busy", **TEA)
    with pytest.raises(Conflict, match="folder 'busy' is being written by export job"):
        export_job_create(folder="busy", **TEA)
    # The database says so too, whoever writes the row.
    with pytest.raises(IntegrityError), transaction.atomic():
        ExportJob.objects.create(params=first.params, out_dir=first.out_dir)
    # A failed job leaves the folder free again.
    ExportJob.objects.filter(pk=first.pk).update(status=JobStatus.FAILED, error="stopped")
    assert export_job_create(folder="busy", **TEA).status == JobStatus.QUEUED


def test_an_error_the_user_must_fix_fails_the_job_at_once_with_its_text_and_no_files(
    approved_tea, export_root
):
    job = export_job_create(folder="tea-late", **TEA)
    (export_root / "tea-late").mkdir()
    (export_root / "tea-late" / "someone-elses.txt").write_text("written after the job was queued")

    assert run_task(job) == "failed"

    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 1
    assert "exists and is not empty" in job.error
    assert job.export is None and not Export.objects.exists()
    assert sorted(p.name for p in export_root.rglob("*")) == ["someone-elses.txt", "tea-late"]


def test_an_unexpected_error_is_retried_with_backoff_then_fails_with_its_text(
    approved_tea, export_root, tmp_path, settings, django_capture_on_commit_callbacks
):
    job = export_job_create(folder="tea-v1", **TEA)
    # The export folder's disk is gone from under the worker: an OSError, not the user's input.
    export_root.rename(tmp_path / "unmounted")
    export_root.write_text("not a folder")

    with django_capture_on_commit_callbacks() as published:
        assert run_task(job) == "queued"
    assert len(published) == 1  # the retry's message (with a countdown)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.attempts == 1 and job.not_before > timezone.now()
    assert job.error.startswith("attempt 1 failed, retrying: NotADirectoryError")
    assert run_task(job) == "not claimable"  # an early message waits for the backoff

    for attempt in (2, 3):
        ExportJob.objects.filter(pk=job.pk).update(not_before=timezone.now())
        assert run_task(job) == ("queued" if attempt < 3 else "failed")
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.attempts == 3
    assert job.error.startswith("NotADirectoryError") and job.error.endswith("(after 3 attempts)")
    assert not Export.objects.exists()


def test_a_killed_workers_leftovers_are_removed_when_the_job_runs_again(
    approved_tea, export_root, django_capture_on_commit_callbacks
):
    job = export_job_create(folder="tea-v1", **TEA)
    abandoned(job)
    dead = export_root / ".tea-v1.writing-deadbeef"
    dead.mkdir()
    (dead / "data.jsonl").write_text('{"half": "a record"')
    other = export_root / ".tea-v10.writing-0badf00d"  # another folder's: never touched
    other.mkdir()

    with django_capture_on_commit_callbacks(execute=False) as published:
        assert sweep()["exports"]["export_jobs_handed_on"] == 1
    assert len(published) == 1
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.claimed_by == "" and "stopped while writing it" in job.error

    assert run_task(job) == "done"
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.attempts == 2
    assert leftovers(export_root) == [".tea-v10.writing-0badf00d"]
    assert Export.objects.count() == 1
    assert len((export_root / "tea-v1" / "data.jsonl").read_text().splitlines()) == 14


def test_a_job_whose_worker_died_after_recording_the_export_is_just_marked_done(approved_tea, export_root):
    job = export_job_create(folder="tea-v1", **TEA)
    abandoned(job)
    # The dead worker got as far as the record (the files moved into place, the Export saved).
    export_create(**job.params)
    export_jobs_sweep()
    assert run_task(job) == "done"
    job.refresh_from_db()
    assert job.export == Export.objects.get()  # exactly one export: the dead worker's, not a second


def test_a_folder_moved_into_place_but_never_recorded_is_written_again(approved_tea, export_root):
    job = export_job_create(folder="tea-v1", **TEA)
    abandoned(job)
    done = export_create(**job.params)  # moved into place ...
    Export.objects.filter(pk=done.pk).delete()  # ... and the worker died before the record
    export_jobs_sweep()
    assert run_task(job) == "done"
    job.refresh_from_db()
    assert job.export.out_dir == job.out_dir and Export.objects.count() == 1
    assert leftovers(export_root) == []


def test_a_job_that_keeps_losing_its_worker_fails_with_the_reason(approved_tea, export_root):
    job = export_job_create(folder="tea-v1", **TEA)
    abandoned(job, attempts=jobs.MAX_ATTEMPTS)
    (export_root / ".tea-v1.writing-deadbeef").mkdir()
    assert export_jobs_sweep()["export_jobs_failed"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == "its worker (gone-host:4242:deadbeef) stopped while writing it (after 3 attempts)"
    assert leftovers(export_root) == []
    assert export_jobs_sweep() == {
        "export_jobs_handed_on": 0,
        "export_jobs_failed": 0,
        "export_jobs_republished": 0,
    }


def test_a_live_lease_is_left_alone(approved_tea, export_root):
    job = jobs._claim(export_job_create(folder="tea-v1", **TEA).pk)
    (export_root / ".tea-v1.writing-12345678").mkdir()  # being written right now
    assert export_jobs_sweep()["export_jobs_handed_on"] == 0
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING
    assert leftovers(export_root) == [".tea-v1.writing-12345678"]


def test_a_lost_message_is_published_again_once_a_worker_has_room(
    approved_tea, export_root, settings, django_capture_on_commit_callbacks
):
    job = export_job_create(folder="tea-v1", **TEA)
    stale = timezone.now() - timedelta(seconds=settings.ASSAY["STALE_SECONDS"] + 5)
    ExportJob.objects.filter(pk=job.pk).update(updated_at=stale)
    # No worker alive: nothing to publish to (the job waits; the page says why).
    assert export_jobs_sweep()["export_jobs_republished"] == 0
    WorkerHeartbeat.objects.create(
        hostname="cpu@idle", queues="cpu", pid=1, started_at=stale, last_seen=timezone.now(), free_since=stale
    )
    with django_capture_on_commit_callbacks(execute=False) as published:
        assert export_jobs_sweep()["export_jobs_republished"] == 1
    assert len(published) == 1
    assert export_jobs_sweep()["export_jobs_republished"] == 0  # once per STALE_SECONDS
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_a_ladder_job_shows_every_steps_rows_from_the_start(approved_tea, alice, export_root):
    job = export_job_create(folder="tea-ladder", user=alice, **{**TEA, "ladder": [0.0, 0.3]})
    # 10 human rows at 0.0; 10 + 4 at 0.3: what the worker will count as it writes.
    assert job.rows_total == 24
    assert run_task(job) == "done"
    job.refresh_from_db()
    assert (job.rows_done, job.rows_total) == (24, 24)


def test_a_requests_refusal_names_fields_not_command_flags():
    from curation.exports.jobs import worded_for_requests

    assert worded_for_requests("--out /x: exists and is not empty") == "folder /x: exists and is not empty"
    assert (
        worded_for_requests("--split heldout exports held-out sources alone: no --campaign, no --ladder")
        == "split heldout exports held-out sources alone: no campaigns, no ladder"
    )
    assert worded_for_requests("--max-per-generator 0.2: with 2 generator model(s)") == (
        "max_per_generator 0.2: with 2 generator model(s)"
    )
    assert (
        worded_for_requests("a --campaigns-like word --outer stays")
        == "a --campaigns-like word --outer stays"
    )
