"""A large export reads its human rows in a forked child beside the synthetic ones
(`curation/exports/parallel.py`): the files are byte-identical to reading them in line,
progress counts every row, and a failure in the child fails the export whole, with no
child left behind. Committed rows only (a child has its own connection): PostgreSQL,
transactional tests."""

from __future__ import annotations

import os

import pytest
from django.db import connection

from curation.exports import parallel, services
from curation.exports.models import Export
from curation.exports.passes import SourcesChanged

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("the parallel reading is PostgreSQL's (SQLite reads in line)")


def run(out, **kwargs):
    return services.export_create(
        campaign_slugs=["tea"], source_names=["tea"], fmt="jsonl", out=out, balance_by="topic", **kwargs
    )


@pytest.fixture
def children(monkeypatch):
    """The pids of the children forked by exports in this test."""
    pids = []
    aside = parallel.Aside

    def spied(*args, **kwargs):
        made = aside(*args, **kwargs)
        pids.append(made._pid)
        return made

    monkeypatch.setattr(parallel, "Aside", spied)
    return pids


def reaped(pid: int) -> bool:
    """Gone and waited for: no orphan, no zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_the_child_reads_the_humans_and_the_files_are_those_of_reading_in_line(
    approved_tea, tmp_path, settings, children
):
    settings.ASSAY = {**settings.ASSAY, "EXPORT_PARALLEL_MIN_ROWS": 10**9}
    in_line = run(tmp_path / "in-line")
    assert children == []

    settings.ASSAY = {**settings.ASSAY, "EXPORT_PARALLEL_MIN_ROWS": 1}
    heard = []
    beside = run(tmp_path / "beside", progress=lambda done, total: heard.append((done, total)))
    assert len(children) == 1
    assert [(f["name"], f["sha256"]) for f in beside.files] == [
        (f["name"], f["sha256"]) for f in in_line.files
    ]
    assert beside.manifest["counts"] == in_line.manifest["counts"]
    assert beside.manifest["counts"]["human"] == 10 and beside.manifest["counts"]["synthetic"] > 0
    # In rows written, reading counted as a share: the child's rows too, never backwards.
    rows = beside.manifest["counts"]["total"]
    assert heard[-1] == (rows, rows)
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)
    assert reaped(children[0])


@pytest.mark.usefixtures("rows_deleted_after_planning")
def test_rows_deleted_before_the_child_reads_them_fail_the_export_whole(
    approved_tea, tmp_path, settings, children
):
    settings.ASSAY = {**settings.ASSAY, "EXPORT_PARALLEL_MIN_ROWS": 1}
    with pytest.raises(SourcesChanged, match="the sources changed while exporting"):
        run(tmp_path / "out")
    assert list(tmp_path.iterdir()) == [] and not Export.objects.exists()
    assert len(children) == 1 and reaped(children[0])
