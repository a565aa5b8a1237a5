"""The export pages: the list of exports and jobs (every role reads), the form with its
preview and Run (admins), a job's page that follows its progress, and an export's page
with its summary, files, datasheet and manifest. Writing happens in a worker, never here."""

from __future__ import annotations

import json
import re
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header

from curation.campaigns.selectors import campaign_list
from curation.core.errors import AssayError, Conflict, NotFound
from curation.core.local_worker import live_workers
from curation.exports.forms import ExportForm, default_folder
from curation.exports.jobs import QUEUE, export_job_create, export_preview_request, export_root
from curation.exports.models import Export, ExportJob
from curation.exports.selectors import (
    export_file_open,
    export_file_text,
    export_get,
    export_job_get,
    export_job_list,
    export_job_of,
    export_list,
)
from curation.review.guidelines import document_html
from curation.sources.selectors import source_list

LISTED = 50  # the latest exports and jobs on the list page


def _export(export_id: int) -> Export:
    try:
        return export_get(export_id=export_id)
    except NotFound as e:
        raise Http404(str(e)) from None


def _job(job_id: int) -> ExportJob:
    try:
        return export_job_get(job_id=job_id)
    except NotFound as e:
        raise Http404(str(e)) from None


def _strata(counts_by_stratum: dict[str, dict[str, int]], cap: float) -> list[dict[str, Any]]:
    """Each stratum's counts and synthetic share against the cap, for the tables."""
    rows = []
    for name, c in counts_by_stratum.items():
        human, synthetic = c.get("human", 0), c.get("synthetic", 0)
        total = human + synthetic
        share = synthetic / total if total else 0.0
        rows.append(
            {
                "name": name,
                "human": human,
                "synthetic": synthetic,
                "total": total,
                "share_pct": round(100 * share, 1),
                "cap_pct": round(100 * cap, 1),
                "over": share > cap + 1e-9,
            }
        )
    return rows


POLICY_FIELDS = ("max_synthetic", "balance_by", "max_depth", "max_per_generator", "seed")


def _policy(policy: dict[str, Any]) -> list[dict[str, Any]]:
    """The policy's values, each with where it came from (a flag, a campaign's mixture, the default)."""
    origin = policy.get("from") or {}

    def said(text: str) -> str:  # the service names a given value by its command-line flag
        return f"given here ({text})" if text.startswith("--") else text

    return [
        {"name": k, "value": policy.get(k), "from": said(origin.get(k, ""))}
        for k in POLICY_FIELDS
        if k in policy or k in origin
    ]


def _summary(data: dict[str, Any]) -> dict[str, Any]:
    """A preview or a manifest as the pages show it."""
    policy = data.get("policy") or {}
    cap = float(policy.get("max_synthetic") or 0.0)
    fraction = (data.get("synthetic_fraction") or {}).get("overall") or 0.0
    return {
        "counts": data.get("counts") or {},
        "strata": _strata(data.get("counts_by_stratum") or {}, cap),
        "balanced": bool(policy.get("balance_by")),
        "overall_pct": round(100 * float(fraction), 1),
        "cap_pct": round(100 * cap, 1),
        "policy": _policy(policy),
        "selection": policy.get("selection"),
        "excluded": data.get("excluded") or {},
    }


@login_required
def export_index(request: HttpRequest) -> HttpResponse:
    """The latest exports and jobs, for every role; admins get the New export button."""
    exports = list(export_list().select_related("created_by")[:LISTED])
    rows = []
    for e in exports:
        m = e.manifest or {}
        rows.append(
            {
                "export": e,
                "total": (m.get("counts") or {}).get("total"),
                "fraction_pct": round(
                    100 * float((m.get("synthetic_fraction") or {}).get("overall") or 0), 1
                ),
                "steps": len(m.get("ladder") or []),
                "split": m.get("split") or "train",
                "folder": e.out_dir,
            }
        )
    return render(
        request,
        "exports/index.html",
        {"rows": rows, "jobs": list(export_job_list()[:LISTED]), "listed": LISTED},
    )


def _choices() -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    campaigns = [(c.slug, f"{c.slug} ({c.get_status_display()})") for c in campaign_list()]
    sources = [(s.name, f"{s.name} ({s.split}, {s.n_examples} rows)") for s in source_list()]
    return campaigns, sources


@login_required
def export_new(request: HttpRequest) -> HttpResponse:
    """The export form (admins). Preview shows the mixture the inputs give without writing
    anything (an htmx partial, or the whole page without JavaScript); Run checks the same
    and queues the job, then opens its page."""
    if not request.user.is_admin_role:
        raise PermissionDenied("Only admins create exports.")
    campaigns, sources = _choices()
    initial = {"folder": default_folder(), "campaigns": request.GET.getlist("campaign")}
    data = request.POST if request.method == "POST" else None
    form = ExportForm(data, initial=initial, campaigns=campaigns, sources=sources)
    action = request.POST.get("action", "preview")
    preview: dict[str, Any] | None = None
    error = ""
    status = 200
    if data is not None:
        if not form.is_valid():
            error, status = "Check the fields marked below.", 400
        else:
            try:
                if action == "run":
                    job = export_job_create(user=request.user, **form.job_params())
                    messages.success(request, f"Export job {job.pk} queued: it writes {job.folder}.")
                    return redirect("export_job", job_id=job.pk)
                raw = export_preview_request(**form.preview_params())
                preview = {**_summary(raw), "steps": raw["ladder"]}
            except AssayError as e:
                error, status = str(e), 409 if isinstance(e, Conflict) else 400
    context = {
        "form": form,
        "preview": preview,
        "error": error,
        "export_root": export_root(),
        "workers": live_workers(QUEUE),
    }
    if request.htmx and action == "preview":
        # htmx swaps 2xx answers only: a refused preview is shown in place all the same.
        return render(request, "exports/_preview.html", context)
    return render(request, "exports/new.html", context, status=status)


@login_required
def export_job(request: HttpRequest, job_id: int) -> HttpResponse:
    job = _job(job_id)
    return render(request, "exports/job.html", {"job": job, "workers": live_workers(QUEUE)})


@login_required
def export_job_live(request: HttpRequest, job_id: int) -> HttpResponse:
    """The job's status panel alone, polled by its page (htmx) while the job is live."""
    job = _job(job_id)
    return render(request, "exports/_job.html", {"job": job, "workers": live_workers(QUEUE)})


HEADING = re.compile(r"#{1,5} ")


def _nested(markdown: str) -> str:
    """A document shown inside the page: each heading one level down, so the page keeps its
    single <h1> (a line that merely starts with '#' inside a code block is left alone)."""
    out, fenced = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        out.append("#" + line if not fenced and HEADING.match(line) else line)
    return "\n".join(out)


@login_required
def export_detail(request: HttpRequest, export_id: int) -> HttpResponse:
    export = _export(export_id)
    manifest = export.manifest or {}
    datasheets = []
    for f in export.files:
        if f["name"].rsplit("/", 1)[-1] != "DATASHEET.md":
            continue
        try:
            datasheets.append(
                {
                    "name": f["name"],
                    "html": document_html(_nested(export_file_text(export=export, name=f["name"]))),
                }
            )
        except NotFound as e:
            datasheets.append({"name": f["name"], "error": str(e)})
    steps = [
        {
            **step,
            "fraction_pct": round(100 * float((step.get("synthetic_fraction") or {}).get("overall") or 0), 1),
        }
        for step in manifest.get("ladder") or []
    ]
    return render(
        request,
        "exports/detail.html",
        {
            "export": export,
            "job": export_job_of(export=export),
            "summary": _summary(manifest),
            "steps": steps,
            "split": manifest.get("split") or "train",
            "inputs": manifest.get("inputs") or {},
            "reviewed": manifest.get("reviewed") or {},
            "files": export.files,
            "datasheets": datasheets,
            "manifest_json": json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True),
        },
    )


@login_required
def export_download(request: HttpRequest, export_id: int, name: str) -> StreamingHttpResponse:
    """One file of the export, verified against its recorded hash as it streams (as the API
    serves it): a missing or resized file is a 404, a file changed in place is cut short."""
    export = _export(export_id)
    try:
        f = export_file_open(export=export, name=name)
    except NotFound as e:
        raise Http404(str(e)) from None
    response = StreamingHttpResponse(f.chunks, content_type="application/octet-stream")
    response["Content-Length"] = str(f.size)
    response["Content-Disposition"] = content_disposition_header(True, f.path.name)
    return response
