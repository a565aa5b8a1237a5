"""Export jobs: an export asked for from the page or the API, written by a `cpu` worker
(`workers.export`), never inside a request.

The job row is the queue's memory, as a generation batch is (generation/batches.py):
- created `queued` once its inputs passed the export's own checks (export_preview) and its
  folder, a plain name under settings.EXPORT_DIR, is free; its message is published after
  commit, and republished by the sweeper when lost;
- claimed `running` by conditional update under a lease that a thread of the worker process
  renews (core.leases); progress is written at most once a second, each write checking
  that this process still holds the job;
- `done` with its Export, or `failed` with the error text: at once for an error the user
  must fix (AssayError), after MAX_ATTEMPTS for anything else (retried with backoff);
- a worker that dies stops renewing: the sweeper puts the job back in the queue (or fails
  it once its attempts are spent) and the next worker removes what the dead one left
  (`.NAME.writing-*` beside the folder) before writing it again.

Exactly one live (queued or running) job per folder, by a partial unique constraint: so the
clean-up never touches a folder that another live job writes."""

from __future__ import annotations

import glob
import logging
import random
import re
import shutil
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, ValidationError

from curation.accounts.models import User
from curation.core import leases
from curation.core.errors import AssayError, Conflict, InvalidInput, describe
from curation.core.local_worker import live_workers
from curation.core.queue import enqueue_on_commit
from curation.exports.models import LIVE, Export, ExportJob, JobStatus
from curation.exports.services import FORMATS, export_create, export_preview

log = logging.getLogger(__name__)

TASK = "workers.export"
QUEUE = "cpu"
MAX_ATTEMPTS = 3  # claims of a job (a lost worker, an unexpected error) before it fails
PROGRESS_SECONDS = 1.0  # at most one progress write a second, whatever the row rate
# A folder name: no separator, no leading dot (hidden, and the `.NAME.writing-*` work
# folders are dot-names), so it can only ever be a child of the export root.
FOLDER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_PREVIEW_ONLY = {"fmt", "out"}  # export_create's keywords that export_preview does not take


class ExportParams(BaseModel):
    """The keyword arguments of export_create that a job stores (all but user and progress).
    A keyword added to export_create and export_preview is one field here."""

    model_config = ConfigDict(extra="forbid")

    campaign_slugs: list[str] = []
    source_names: list[str] = []
    fmt: str = "jsonl"
    out: str
    max_synthetic: float | None = None
    balance_by: str | None = None
    max_depth: int | None = None
    max_per_generator: float | None = None
    ladder: list[float] | None = None
    seed: int = 0
    split: str = "train"

    def preview_kwargs(self) -> dict[str, Any]:
        return self.model_dump(exclude=_PREVIEW_ONLY)


class LeaseLost(Conflict):
    """This process no longer holds the job (its lease ran out and it was handed on)."""


def export_root() -> Path:
    return Path(settings.EXPORT_DIR).resolve()


def export_folder(*, name: str) -> Path:
    """The folder `name` under the export root. A web user names a folder, never a path:
    anything but a plain name (a separator, `..`, a leading dot) is refused, and so is a
    name that resolves elsewhere (a symlink planted in the root)."""
    if not isinstance(name, str) or not FOLDER.fullmatch(name) or ".." in name:
        raise InvalidInput(
            f"folder {str(name)[:200]!r}: give a plain folder name of letters, digits, '.', '-' and '_' "
            "(at most 128, not starting with '.', no '..'): exports are written under the export folder"
        )
    root = export_root()
    path = (root / name).resolve()
    if path.parent != root:
        raise InvalidInput(f"folder {name!r} leads outside the export folder")
    return path


def _params(out: Path, params: dict[str, Any]) -> ExportParams:
    try:
        return ExportParams(out=str(out), **params)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}") from None


def _check_folder(out: Path) -> None:
    """The checks of the output folder an export would make, and that no export or live job
    has it already."""
    name = out.name
    held = Export.objects.filter(out_dir=str(out)).values_list("pk", flat=True).first()
    if held is not None:
        raise InvalidInput(
            f"folder {name!r} holds export {held} already: exports are immutable, choose a new name"
        )
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InvalidInput(
            f"folder {name!r} exists and is not empty: exports are immutable, choose a new name"
        )
    live = ExportJob.objects.filter(out_dir=str(out), status__in=LIVE).values_list("pk", flat=True).first()
    if live is not None:
        raise Conflict(f"folder {name!r} is being written by export job {live}: choose another name")


# The export's messages name the command's flags; a page or an API request names fields.
FLAG_FIELDS = {
    "--max-synthetic": "max_synthetic",
    "--balance-by": "balance_by",
    "--max-depth": "max_depth",
    "--max-per-generator": "max_per_generator",
    "--ladder": "ladder",
    "--split": "split",
    "--format": "format",
    "--campaign": "campaigns",
    "--source": "sources",
    "--out": "folder",
}
_FLAG = re.compile("|".join(re.escape(flag) + r"\b(?!-)" for flag in FLAG_FIELDS))


def worded_for_requests(message: str) -> str:
    """An export's message as a page or API user reads it: fields, not command flags."""
    return _FLAG.sub(lambda m: FLAG_FIELDS[m.group(0)], message)


def export_preview_request(**params: Any) -> dict[str, Any]:
    """export_preview for a page or an API request: the same checks, its refusals worded
    with the request's field names."""
    try:
        return export_preview(**params)
    except AssayError as e:
        raise type(e)(worded_for_requests(str(e))) from None


def export_job_create(*, folder: str, user: User | None = None, **params: Any) -> ExportJob:
    """Queue an export into `folder` (a name under the export root). `params` are
    export_create's keywords (campaign_slugs, source_names, fmt, max_synthetic, ...). Bad
    input is refused here, at once, with the export's own message: the preview runs the
    same checks, and the folder is checked; nothing is stored then."""
    out = export_folder(name=folder)
    p = _params(out, params)
    if p.fmt not in FORMATS:
        raise InvalidInput(f"format {p.fmt!r}: this version writes {', '.join(FORMATS)}")
    _check_folder(out)  # first: it is cheap, and the preview plans every row
    preview = export_preview_request(**p.preview_kwargs())
    policy = preview["policy"]
    if p.ladder and any(not 0 <= f <= policy["max_synthetic"] for f in p.ladder):
        raise InvalidInput(
            f"ladder steps must lie between 0 and the cap {policy['max_synthetic']} "
            f"({policy['from'].get('max_synthetic', 'default')})"
        )
    try:
        with transaction.atomic():
            job = ExportJob.objects.create(
                params=p.model_dump(),
                out_dir=str(out),
                created_by=user,
                # The preview's count (a ladder: every step's rows, as written), so the page shows
                # a total from the start; writing corrects it.
                rows_total=sum(s["total"] for s in preview["ladder"])
                if p.ladder
                else preview["counts"]["total"],
            )
            enqueue_on_commit(TASK, job.pk, queue=QUEUE)
    except IntegrityError:  # a job for the same folder was created meanwhile (the partial unique constraint)
        raise Conflict(
            f"folder {out.name!r} is being written by another export job: choose another name"
        ) from None
    log.info("export job %s queued: %s", job.pk, out)
    return job


def export_job_run(*, job_id: int) -> str:
    """Write a queued job's export in this process; returns the job's status after it.
    Safe to call twice, late or for a job that moved on: only a claim by conditional
    update lets it work, and a job whose earlier attempt already recorded its Export is
    just marked done."""
    job = _claim(job_id)
    if job is None:
        return "not claimable"
    leases.hold(ExportJob, job.pk)
    try:
        return _run(job)
    finally:
        leases.release(ExportJob, job.pk)


def _ready() -> Q:
    return Q(status=JobStatus.QUEUED) & (Q(not_before__isnull=True) | Q(not_before__lte=timezone.now()))


def _claim(job_id: int) -> ExportJob | None:
    now = timezone.now()
    claimed = ExportJob.objects.filter(_ready(), pk=job_id).update(
        status=JobStatus.RUNNING,
        claimed_by=leases.worker_id(),
        lease_expires_at=leases.lease_until(),
        attempts=F("attempts") + 1,
        started_at=now,
        not_before=None,
        updated_at=now,
    )
    if not claimed:
        return None
    return ExportJob.objects.select_related("created_by").get(pk=job_id)


def _mine(job: ExportJob):
    """The job's row while this process holds it: every write of a running job goes through it."""
    return ExportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, claimed_by=leases.worker_id())


def _run(job: ExportJob) -> str:
    out = Path(job.out_dir)
    # An earlier attempt recorded the export, then died before saying so: it is this job's.
    earlier = (
        Export.objects.filter(out_dir=job.out_dir, created_at__gte=job.created_at).order_by("pk").first()
    )
    if earlier is not None:
        return _done(job, earlier)
    try:
        _clear_leftovers(out, retry=job.attempts > 1)
        params = ExportParams.model_validate(job.params)
        export = export_create(**params.model_dump(), user=job.created_by, progress=_Progress(job))
    except LeaseLost:
        log.warning("export job %s: handed on while this worker wrote it; the new holder finishes it", job.pk)
        return "handed on"
    except AssayError as e:  # the user's to fix (the data changed since the preview, the folder filled)
        return _attempt_failed(job, worded_for_requests(str(e)), permanent=True)
    except Exception as e:  # a full disk, a database blip, a bug, the time limit: worth another attempt
        log.exception("export job %s: attempt %s failed", job.pk, job.attempts)
        return _attempt_failed(job, describe(e), permanent=False)
    return _done(job, export)


def _clear_leftovers(out: Path, *, retry: bool) -> int:
    """Remove what a killed attempt left beside the folder: its `.NAME.writing-*` work
    folders, and (on a retry) the folder itself when the attempt had moved it into place
    but died before recording it. Safe only for the folder's one live job, which the
    caller is (the partial unique constraint): no other live job writes here."""
    removed = 0
    for work in out.parent.glob(f".{glob.escape(out.name)}.writing-*"):
        shutil.rmtree(work, ignore_errors=True)
        removed += 1
    # Complete (moved into place whole, so it has its manifest) and unrecorded: rewritten.
    if retry and (out / "manifest.json").is_file() and not Export.objects.filter(out_dir=str(out)).exists():
        shutil.rmtree(out, ignore_errors=True)
        removed += 1
    if removed:
        log.warning("export folder %s: removed %d leftovers of a stopped attempt", out, removed)
    return removed


class _Progress:
    """export_create's progress callback: one write a second at most (and the last), each
    one a check that this process still holds the job; when it does not, the export stops
    (export_create removes its own work folder)."""

    def __init__(self, job: ExportJob) -> None:
        self.job = job
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self.last < PROGRESS_SECONDS:
            return
        self.last = now
        if not _mine(self.job).update(rows_done=done, rows_total=total, updated_at=timezone.now()):
            raise LeaseLost(f"export job {self.job.pk} is no longer held by this worker")


def _done(job: ExportJob, export: Export) -> str:
    rows = sum(int(f.get("rows") or 0) for f in export.files)
    now = timezone.now()
    if not _mine(job).update(
        status=JobStatus.DONE,
        export=export,
        rows_done=rows,
        rows_total=rows,
        error="",
        lease_expires_at=None,
        finished_at=now,
        updated_at=now,
    ):
        # Handed on meanwhile: the new holder finds this export and marks the job done.
        log.warning("export job %s: export %s written after the job was handed on", job.pk, export.pk)
        return "handed on"
    log.info("export job %s done: export %s, %d rows", job.pk, export.pk, rows)
    return JobStatus.DONE


def _backoff(attempts: int) -> float:
    """Exponential with jitter: about 10 s, 20 s, 40 s..., at most 5 minutes."""
    return random.uniform(0.5, 1.0) * min(300.0, 10.0 * 2 ** max(0, attempts - 1))  # noqa: S311


def _after(attempts: int) -> str:
    return f" (after {attempts} attempt{'s' if attempts != 1 else ''})"


def _attempt_failed(job: ExportJob, error: str, *, permanent: bool) -> str:
    row = _mine(job).values_list("attempts", flat=True).first()
    if row is None:
        return "handed on"  # not ours any more: the new holder decides
    now = timezone.now()
    if permanent or row >= MAX_ATTEMPTS:
        text = error if permanent else error + _after(row)
        _mine(job).update(
            status=JobStatus.FAILED,
            error=text[:4000],
            lease_expires_at=None,
            finished_at=now,
            updated_at=now,
        )
        log.error("export job %s failed: %s", job.pk, text)
        return JobStatus.FAILED
    delay = _backoff(row)
    with transaction.atomic():
        if _mine(job).update(
            status=JobStatus.QUEUED,
            error=f"attempt {row} failed, retrying: {error}"[:4000],
            claimed_by="",
            lease_expires_at=None,
            not_before=now + timedelta(seconds=delay),
            updated_at=now,
        ):
            enqueue_on_commit(TASK, job.pk, queue=QUEUE, countdown=delay)
    log.warning("export job %s: attempt %s failed, retrying in %.0f s: %s", job.pk, row, delay, error)
    return JobStatus.QUEUED


def export_jobs_sweep() -> dict[str, int]:
    """The sweeper's repair for export jobs (registered in apps.py):
    - a running job whose lease ran out lost its worker: back to the queue with a new
      message, or failed once its attempts are spent (a job that kills every worker that
      takes it must not loop forever);
    - a queued, ready job untouched for STALE_SECONDS while a `cpu` worker had room that
      long lost its message (a broker restart, a killed filesystem-queue worker): published
      again. Each repair is a conditional update, so two sweepers do it once."""
    now = timezone.now()
    handed_on = failed = republished = 0
    for job in ExportJob.objects.filter(status=JobStatus.RUNNING, lease_expires_at__lt=now):
        lost = f"its worker ({job.claimed_by}) stopped while writing it"
        expired = ExportJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING, lease_expires_at__lt=now)
        if job.attempts >= MAX_ATTEMPTS:
            # Cleared while the job is still the folder's live job: no other job writes there.
            _clear_leftovers(Path(job.out_dir), retry=False)
            failed += expired.update(
                status=JobStatus.FAILED,
                error=(lost + _after(job.attempts))[:4000],
                lease_expires_at=None,
                finished_at=now,
                updated_at=now,
            )
            continue
        with transaction.atomic():
            moved = expired.update(
                status=JobStatus.QUEUED,
                error=f"{lost}; handed on",
                claimed_by="",
                lease_expires_at=None,
                not_before=None,
                updated_at=now,
            )
            if moved:
                enqueue_on_commit(TASK, job.pk, queue=QUEUE)
        if moved:
            handed_on += 1
            log.warning("export job %s: %s; handed on", job.pk, lost)
    stale = now - timedelta(seconds=settings.ASSAY["STALE_SECONDS"])
    waiting = ExportJob.objects.filter(_ready(), updated_at__lt=stale)
    if waiting.exists() and any(
        w.free_since is not None and w.free_since < stale for w in live_workers(QUEUE)
    ):
        for pk in waiting.values_list("pk", flat=True):
            with transaction.atomic():
                if ExportJob.objects.filter(_ready(), pk=pk, updated_at__lt=stale).update(updated_at=now):
                    enqueue_on_commit(TASK, pk, queue=QUEUE)
                    republished += 1
    return {
        "export_jobs_handed_on": handed_on,
        "export_jobs_failed": failed,
        "export_jobs_republished": republished,
    }
