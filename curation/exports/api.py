from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header
from ninja import Router, Schema

from curation.core.auth import READ, require_role
from curation.exports.selectors import export_file_open, export_get, export_list

router = Router(tags=["exports"])


class ExportOut(Schema):
    id: int
    format: str
    created_at: datetime
    params: dict[str, Any]
    files: list[dict[str, Any]]


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
