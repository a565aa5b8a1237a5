from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.db.models import QuerySet

from curation.core.errors import NotFound
from curation.exports.models import Export, ExportJob

log = logging.getLogger(__name__)


def export_list() -> QuerySet[Export]:
    return Export.objects.order_by("-id")


def export_job_list() -> QuerySet[ExportJob]:
    return ExportJob.objects.select_related("created_by", "export").order_by("-id")


def export_job_of(*, export: Export) -> ExportJob | None:
    """The job that wrote the export; None for one written by `export_dataset`."""
    return ExportJob.objects.filter(export=export).select_related("created_by").first()


def export_job_get(*, job_id: int) -> ExportJob:
    try:
        return ExportJob.objects.select_related("created_by", "export").get(pk=job_id)
    except ExportJob.DoesNotExist:
        raise NotFound(f"no export job {job_id}") from None


def export_get(*, export_id: int) -> Export:
    try:
        return Export.objects.get(pk=export_id)
    except Export.DoesNotExist:
        raise NotFound(f"no export {export_id}") from None


BLOCK = 1 << 20


@dataclass(frozen=True)
class ExportFile:
    path: Path
    size: int
    chunks: Iterator[bytes]


def export_file_open(*, export: Export, name: str) -> ExportFile:
    """One of the export's files, verified against the hash recorded when it was written
    while it is sent, not by reading it twice: the bytes are hashed as they stream, and
    the last block is held back until the digest matches, so a changed file never
    arrives whole (the client sees a short body against its Content-Length). A missing
    file, or one whose size changed, is refused before a byte is sent."""
    entry = next((f for f in export.files if f["name"] == name), None)
    if entry is None:
        raise NotFound(f"export {export.pk} has no file {name!r}")
    path = Path(export.out_dir) / name
    if not path.is_file():
        raise NotFound(f"file {name!r} of export {export.pk} is no longer on disk")
    size = path.stat().st_size
    if "size" in entry and entry["size"] != size:
        raise NotFound(f"file {name!r} of export {export.pk} changed on disk since it was exported")
    return ExportFile(path, size, _verified(path, entry["sha256"], export.pk, name))


def _verified(path: Path, sha256: str, export_id: int, name: str) -> Iterator[bytes]:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        held = fh.read(BLOCK)
        while True:
            block = fh.read(BLOCK)
            digest.update(held)
            if not block:
                break
            yield held
            held = block
    if digest.hexdigest() != sha256:
        log.error(
            "export %s: %s changed on disk since it was exported; the download was cut", export_id, name
        )
        raise FileChanged(f"file {name!r} of export {export_id} changed on disk since it was exported")
    yield held


def export_file_text(*, export: Export, name: str, limit: int = 1 << 20) -> str:
    """A small file of the export (its DATASHEET.md) read whole, verified like a download;
    NotFound when it is missing, changed or larger than `limit`."""
    f = export_file_open(export=export, name=name)
    if f.size > limit:
        raise NotFound(f"file {name!r} of export {export.pk} is too large to show ({f.size} bytes)")
    try:
        return b"".join(f.chunks).decode("utf-8", errors="replace")
    except FileChanged as e:
        raise NotFound(str(e)) from None


class FileChanged(Exception):
    """Raised mid-stream: the response is cut short, never completed with changed bytes."""
