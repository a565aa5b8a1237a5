"""Exports are immutable records (issue 9): deleting or re-importing the data they were
made from changes nothing in a past export, its record, its files or what the API serves."""

from __future__ import annotations

import hashlib

import pytest

from curation.campaigns.models import Campaign, Candidate
from curation.exports.models import Export
from curation.exports.services import export_create
from curation.sources.models import Example, Source
from curation.sources.services import examples_import
from tests.exports.test_export_dataset import DATA


def _served(client, token, export: Export, name: str) -> bytes:
    response = client.get(
        f"/api/v1/exports/{export.pk}/files/{name}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


@pytest.mark.usefixtures("approved_tea")
def test_deleting_and_reimporting_the_sources_changes_no_past_export(alice, charlie, token, client, tmp_path):
    e = export_create(
        campaign_slugs=["tea"],
        source_names=["tea"],
        fmt="jsonl",
        out=tmp_path / "out",
        max_synthetic=0.3,
        user=alice,
    )
    before = {f["name"]: (tmp_path / "out" / f["name"]).read_bytes() for f in e.files}
    record = (e.manifest, e.files, e.params)

    # The campaign and its candidates go, then the source and its rows; the source comes back changed.
    Campaign.objects.filter(slug="tea").delete()
    Source.objects.filter(name="tea").delete()
    assert not Candidate.objects.exists() and not Example.objects.filter(source__name="tea").exists()
    changed = tmp_path / "tea_changed.jsonl"
    changed.write_text(
        (DATA / "tea_train.jsonl").read_text(encoding="utf-8").replace("Celsius", "Fahrenheit"),
        encoding="utf-8",
    )
    examples_import(path=changed, source_name="tea", split="train", license="CC-BY-4.0")

    e = Export.objects.get(pk=e.pk)
    assert (e.manifest, e.files, e.params) == record
    charlie_token = token(charlie)
    for f in e.files:
        body = _served(client, charlie_token, e, f["name"])
        assert body == before[f["name"]]
        assert hashlib.sha256(body).hexdigest() == f["sha256"]
    assert b"Fahrenheit" not in before["data.jsonl"]
