from __future__ import annotations

import hashlib
from pathlib import Path

from django.db.models import QuerySet

from curation.core.errors import NotFound
from curation.exports.models import Export


def export_list() -> QuerySet[Export]:
    return Export.objects.order_by("-id")


def export_get(*, export_id: int) -> Export:
    try:
        return Export.objects.get(pk=export_id)
    except Export.DoesNotExist:
        raise NotFound(f"no export {export_id}") from None


def export_file_path(*, export: Export, name: str) -> Path:
    """The path of one of the export's files, checked against the hash recorded when it
    was written: an immutable export never serves a changed or foreign file."""
    entry = next((f for f in export.files if f["name"] == name), None)
    if entry is None:
        raise NotFound(f"export {export.pk} has no file {name!r}")
    path = Path(export.out_dir) / name
    if not path.is_file():
        raise NotFound(f"file {name!r} of export {export.pk} is no longer on disk")
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != entry["sha256"]:
        raise NotFound(f"file {name!r} of export {export.pk} changed on disk since it was exported")
    return path
