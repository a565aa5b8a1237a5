from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, StreamingHttpResponse
from django.urls import reverse
from django.utils.http import content_disposition_header
from ninja import Field, Router, Schema, Status

from curation.core.auth import ADMIN, READ, require_role
from curation.exports.jobs import export_job_create, export_preview_request
from curation.exports.models import ExportJob
from curation.exports.selectors import export_file_open, export_get, export_job_get, export_list

router = Router(tags=["exports"])


class ExportOut(Schema):
    id: int
    format: str
    created_at: datetime
    params: dict[str, Any]
    files: list[dict[str, Any]]


class PreviewIn(Schema):
    """The inputs and policy of an export; a value left out comes from the campaigns' own
    `mixture` (the strictest of several), else the default. `balance_by: ""` asks for no strata."""

    campaigns: list[str] = []
    sources: list[str] = []
    max_synthetic: float | None = None
    balance_by: str | None = None
    max_depth: int | None = None
    max_per_generator: float | None = None
    ladder: list[float] | None = None
    seed: int = 0
    split: Literal["train", "heldout"] = "train"

    def params(self) -> dict[str, Any]:
        """export_create's keywords, named as the service names them."""
        d = self.model_dump()
        d["campaign_slugs"], d["source_names"] = d.pop("campaigns"), d.pop("sources")
        return d


class ExportIn(PreviewIn):
    folder: str = Field(
        description="a new folder name under the export folder (ASSAY_EXPORT_DIR), not a path"
    )
    format: Literal["jsonl", "parquet", "hf"] = "jsonl"

    def params(self) -> dict[str, Any]:
        d = super().params()
        d["fmt"] = d.pop("format")
        return d


API_NAMES = {"campaign_slugs": "campaigns", "source_names": "sources", "fmt": "format"}


class Progress(Schema):
    done: int
    total: int


class JobOut(Schema):
    id: int
    status: str
    folder: str
    progress: Progress
    export: int | None = Field(description="the export's id once the job is done")
    error: str = Field(description="why it failed (status failed), or why the last attempt did")
    attempts: int
    params: dict[str, Any]
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    url: str = Field(description="where to poll it")


def _job(job: ExportJob) -> dict[str, Any]:
    return {
        "id": job.pk,
        "status": job.status,
        "folder": job.folder,
        "progress": {"done": job.rows_done, "total": job.rows_total},
        "export": job.export_id,
        "error": job.error,
        "attempts": job.attempts,
        # Named as a request names them, so a client can send a job's params again.
        "params": {API_NAMES.get(k, k): v for k, v in job.params.items() if k != "out"},
        "created_by": job.created_by.username if job.created_by else None,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "url": reverse("api:export_job_status", args=[job.pk]),
    }


# The fixed paths first: /exports/{export_id} would otherwise take "preview" and "jobs".


@router.post("/exports/preview", response=dict[str, Any])
def export_preview_endpoint(request: HttpRequest, body: PreviewIn):
    """What an export with these inputs would hold, without writing it: the policy and where
    each value came from, the counts and the synthetic share per stratum. Refused exactly as
    the export would be (400 with the reason)."""
    require_role(request, ADMIN)
    return export_preview_request(**body.params())


@router.get("/exports/jobs/{job_id}", response=JobOut, url_name="export_job_status")
def export_job_status(request: HttpRequest, job_id: int):
    """An export job: queued, running (with rows written of the total), done (with its export's
    id) or failed (with the error text)."""
    require_role(request, READ)
    return _job(export_job_get(job_id=job_id))


@router.post("/exports", response={202: JobOut})
def export_job_start(request: HttpRequest, body: ExportIn):
    """Queue an export (admins): a worker of the `cpu` queue writes it into `folder` under the
    export folder; poll the job's `url`. Bad input is refused at once (400) and nothing is
    queued; a folder in use is a 409."""
    user = require_role(request, ADMIN)
    params = body.params()
    job = export_job_create(user=user, folder=params.pop("folder"), **params)
    return Status(202, _job(export_job_get(job_id=job.pk)))


@router.get("/exports", response=list[ExportOut])
def exports(request: HttpRequest):
    require_role(request, READ)
    return [
        {"id": e.pk, "format": e.format, "created_at": e.created_at, "params": e.params, "files": e.files}
        for e in export_list()
    ]


@router.get("/exports/{export_id}", response=dict[str, Any])
def export_manifest(request: HttpRequest, export_id: int):
    require_role(request, READ)
    return export_get(export_id=export_id).manifest


@router.get("/exports/{export_id}/files/{path:name}")
def export_file(request: HttpRequest, export_id: int, name: str):
    require_role(request, READ)
    f = export_file_open(export=export_get(export_id=export_id), name=name)
    response = StreamingHttpResponse(f.chunks, content_type="application/octet-stream")
    response["Content-Length"] = str(f.size)
    response["Content-Disposition"] = content_disposition_header(True, f.path.name)
    return response
