"""Curated exports through the `export_dataset` command and the service (CONTRACT
"export_dataset", "Exported record"; DESIGN "Provenance", "Mixture policy").

The tea source has 10 human train rows (brewing 4, kinds 4, storage 2), so a cap of 0.3
lets at most floor(0.3 * 10 / 0.7) = 4 synthetic rows in, and per topic 1, 1 and 0."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from curation.campaigns.imports import candidates_import
from curation.exports.models import Export
from curation.exports.services import export_create
from curation.scoring.services import candidates_score
from tests.support.exports import EDITED, approve_all
from workers.critics.text import content_sha256

DATA = Path(__file__).parent.parent / "data"
PROVENANCE = {
    "origin",
    "source",
    "campaign",
    "generator",
    "generation_depth",
    "parents",
    "critics",
    "review",
    "content_sha256",
    "created_at",
}
GENERATOR = {"backend", "model", "params", "prompt_template", "seed"}
REVIEW = {"decision", "reviewers", "edited", "edit_distance"}
MANIFEST = {"counts", "synthetic_fraction", "policy", "files", "diversity", "code_version"}


@pytest.fixture
def approved(approved_tea):
    """syn-1..syn-4 approved by bob, syn-2 with an edit (tests/support/exports.py)."""
    return approved_tea


def export(out: Path, *args: str) -> int:
    """Runs the command; returns the export id it prints (alone on stdout)."""
    stdout, stderr = StringIO(), StringIO()
    call_command(
        "export_dataset",
        "--campaign",
        "tea",
        "--source",
        "tea",
        "--out",
        str(out),
        *args,
        stdout=stdout,
        stderr=stderr,
    )
    assert stdout.getvalue().strip().isdigit(), stdout.getvalue()
    return int(stdout.getvalue())


def rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "data.jsonl").read_text(encoding="utf-8").splitlines()]


def manifest(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def is_synthetic(record: dict) -> bool:
    return record["provenance"]["origin"] != "human"


def test_the_synthetic_share_stays_under_the_cap_and_no_human_row_is_dropped(approved, tmp_path):
    export_id = export(tmp_path / "out", "--max-synthetic", "0.3")
    records = rows(tmp_path / "out")
    synthetic = [r for r in records if is_synthetic(r)]
    humans = [r for r in records if not is_synthetic(r)]
    assert sorted(r["id"] for r in humans) == sorted(f"tea-{i}" for i in range(1, 11))
    assert len(synthetic) == 4  # floor(0.3 * 10 / 0.7): all four approved fit
    assert len(synthetic) / len(records) <= 0.3
    m = manifest(tmp_path / "out")
    assert m["counts"] == {"human": 10, "synthetic": 3, "synthetic_edited": 1, "total": 14}
    assert m["synthetic_fraction"]["overall"] == round(4 / 14, 6)
    assert Export.objects.get(pk=export_id).manifest == m


def test_balancing_by_topic_caps_the_share_within_each_topic(approved, tmp_path):
    export(tmp_path / "out", "--max-synthetic", "0.3", "--balance-by", "topic")
    records = rows(tmp_path / "out")
    by_topic: dict[str, Counter] = {}
    for r in records:
        by_topic.setdefault(r["metadata"]["topic"], Counter())[is_synthetic(r)] += 1
    assert {t: (c[False], c[True]) for t, c in by_topic.items()} == {
        "brewing": (4, 1),
        "kinds": (4, 1),
        "storage": (2, 0),
    }
    m = manifest(tmp_path / "out")
    for topic, c in by_topic.items():
        share = c[True] / (c[True] + c[False])
        assert share <= 0.3
        assert m["synthetic_fraction"]["by_stratum"][topic] == round(share, 6)
    assert m["policy"]["balance_by"] == "topic"
    assert m["excluded"]["approved_synthetic_over_cap"] == 2


def test_held_out_rows_are_never_exported(approved, tmp_path):
    export(tmp_path / "out", "--max-synthetic", "0.3")
    records = rows(tmp_path / "out")
    heldout = [json.loads(line) for line in (DATA / "tea_heldout.jsonl").read_text().splitlines()]
    assert {r["provenance"]["source"] for r in records} == {"tea"}
    assert not {h["id"] for h in heldout} & {r["id"] for r in records}
    assert not {h["response"] for h in heldout} & {r["response"] for r in records}


def test_naming_a_held_out_source_is_refused_with_a_clear_error(approved, tmp_path):
    out = tmp_path / "out"
    with pytest.raises(CommandError, match=r"^source 'tea-heldout' is held-out: it is never exported"):
        call_command("export_dataset", "--source", "tea", "--source", "tea-heldout", "--out", str(out))
    assert not out.exists()
    assert not Export.objects.exists()


def test_every_record_carries_the_provenance_of_the_design(approved, tmp_path):
    export(tmp_path / "out", "--max-synthetic", "0.3")
    records = rows(tmp_path / "out")
    for r in records:
        p = r["provenance"]
        assert set(p) >= PROVENANCE, r["id"]
        sample = {"prompt": r["prompt"], "response": r["response"]}
        assert p["content_sha256"] == content_sha256(sample)
        assert datetime.fromisoformat(p["created_at"]).tzinfo is not None
        if is_synthetic(r):
            assert set(p["generator"]) >= GENERATOR
            assert p["generator"]["model"] == "elsewhere-7b"
            assert set(p["review"]) >= REVIEW
            assert p["review"]["reviewers"] == ["bob"]
            assert (p["campaign"], p["generation_depth"]) == ("tea", 1)
            assert set(p["critics"]) >= {"length", "repetition", "duplicate", "contamination"}
        else:
            assert (p["origin"], p["generation_depth"], p["campaign"]) == ("human", 0, None)
        assert r["metadata"]["topic"] in {"brewing", "kinds", "storage"}


def test_an_edited_record_exports_the_edit_and_says_so(approved, tmp_path):
    export(tmp_path / "out", "--max-synthetic", "0.3")
    [edited] = [r for r in rows(tmp_path / "out") if r["id"] == "syn-2"]
    assert edited["response"] == EDITED
    p = edited["provenance"]
    assert p["origin"] == "synthetic_edited"
    assert p["review"]["decision"] == "edit" and p["review"]["edited"] is True
    assert p["review"]["edit_distance"] > 0
    [accepted] = [r for r in rows(tmp_path / "out") if r["id"] == "syn-1"]
    assert accepted["provenance"]["review"] == {
        "decision": "accept",
        "reviewers": ["bob"],
        "edited": False,
        "edit_distance": 0,
    }


def test_the_manifest_describes_the_files_on_disk(approved, tmp_path):
    export(tmp_path / "out", "--max-synthetic", "0.3", "--balance-by", "topic", "--seed", "7")
    m = manifest(tmp_path / "out")
    assert set(m) >= MANIFEST
    assert m["policy"] | {"selection": None} == {
        "max_synthetic": 0.3,
        "balance_by": "topic",
        "max_depth": 1,
        "seed": 7,
        "max_per_generator": None,
        "selection": None,
        "from": {
            "max_synthetic": "--max-synthetic",
            "balance_by": "--balance-by",
            "max_per_generator": "none: no campaign's mixture sets it",
            "max_depth": "the mixture of tea",
        },
    }
    data = (tmp_path / "out" / "data.jsonl").read_bytes()
    sheet = (tmp_path / "out" / "DATASHEET.md").read_bytes()
    assert m["files"] == [
        {"name": "data.jsonl", "rows": data.count(b"\n"), "sha256": hashlib.sha256(data).hexdigest()},
        {"name": "DATASHEET.md", "rows": 0, "sha256": hashlib.sha256(sheet).hexdigest()},
    ]
    assert set(m["synthetic_fraction"]) == {"overall", "by_stratum"}
    assert m["diversity"]["human"]["n"] == 10 and m["diversity"]["synthetic"]["n"] == 2
    assert m["code_version"].startswith("assay ")


def test_two_runs_with_the_same_seed_are_byte_identical(approved, tmp_path):
    first = export(tmp_path / "a", "--max-synthetic", "0.3", "--balance-by", "topic", "--seed", "3")
    second = export(tmp_path / "b", "--max-synthetic", "0.3", "--balance-by", "topic", "--seed", "3")
    assert first != second
    for name in ("data.jsonl", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_another_seed_orders_the_same_records_differently(approved, tmp_path):
    export(tmp_path / "a", "--max-synthetic", "0.3", "--seed", "1")
    export(tmp_path / "b", "--max-synthetic", "0.3", "--seed", "2")
    a, b = rows(tmp_path / "a"), rows(tmp_path / "b")
    assert sorted(r["id"] for r in a) == sorted(r["id"] for r in b)
    assert [r["id"] for r in a] != [r["id"] for r in b]


def test_a_ladder_gives_one_folder_per_step_with_the_same_humans_and_nested_synthetic_sets(
    approved, tmp_path
):
    out = tmp_path / "out"
    export(out, "--max-synthetic", "0.3", "--ladder", "0,0.1,0.2,0.3")
    folders = ["synthetic-0.00", "synthetic-0.10", "synthetic-0.20", "synthetic-0.30"]
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", *folders]
    humans, synthetic = [], []
    for folder in folders:
        records = rows(out / folder)
        humans.append([json.dumps(r, sort_keys=True) for r in records if not is_synthetic(r)])
        synthetic.append({r["id"] for r in records if is_synthetic(r)})
        step = manifest(out / folder)
        assert step["policy"]["max_synthetic"] == float(folder.split("-")[1])
        assert step["synthetic_fraction"]["overall"] <= step["policy"]["max_synthetic"]
    assert all(h == humans[0] for h in humans) and len(humans[0]) == 10
    assert [len(s) for s in synthetic] == [0, 1, 2, 4]
    assert synthetic[0] <= synthetic[1] <= synthetic[2] <= synthetic[3]
    index = manifest(out)
    assert [step["folder"] for step in index["ladder"]] == folders


def test_a_ladder_step_above_the_cap_is_refused(approved, tmp_path):
    with pytest.raises(CommandError, match="--ladder"):
        export(tmp_path / "out", "--max-synthetic", "0.2", "--ladder", "0,0.3")


@pytest.fixture
def grandchild(approved, bob, tmp_path):
    """An approved candidate made from synthetic data (generation_depth 2)."""
    path = tmp_path / "depth2.jsonl"
    row = {
        "id": "syn-deep",
        "prompt": "How much genmaicha per cup?",
        "response": "Use a heaped spoon of genmaicha per cup: the toasted rice is light and takes room.",
        "topic": "kinds",
        "generator_model": "elsewhere-7b",
        "generation_depth": 2,
        "parents": ["syn-2"],
    }
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")
    candidates_import(path=path, campaign=approved)
    candidates_score(candidate_ids=list(approved.candidates.values_list("id", flat=True)))
    assert approve_all(approved, bob) == ["syn-deep"]
    return approved


def test_synthetic_of_synthetic_is_left_out_unless_the_depth_is_raised(grandchild, tmp_path):
    export(tmp_path / "d1", "--max-synthetic", "0.5")
    assert "syn-deep" not in {r["id"] for r in rows(tmp_path / "d1")}
    m = manifest(tmp_path / "d1")
    assert m["excluded"]["approved_synthetic_over_depth"] == 1
    assert m["policy"]["max_depth"] == 1

    export(tmp_path / "d2", "--max-synthetic", "0.5", "--max-depth", "2")
    [deep] = [r for r in rows(tmp_path / "d2") if r["id"] == "syn-deep"]
    assert (deep["provenance"]["generation_depth"], deep["provenance"]["parents"]) == (2, ["syn-2"])
    assert manifest(tmp_path / "d2")["excluded"]["approved_synthetic_over_depth"] == 0


def test_a_non_empty_out_folder_is_refused_and_left_alone(approved, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(CommandError, match="not empty"):
        export(out, "--max-synthetic", "0.3")
    assert [p.name for p in out.iterdir()] == ["notes.txt"]
    assert not Export.objects.exists()


def test_the_service_export_is_recorded_with_its_files_and_who_made_it(approved, alice, tmp_path):
    e = export_create(
        campaign_slugs=["tea"],
        source_names=["tea"],
        max_synthetic=0.3,
        fmt="jsonl",
        out=tmp_path / "out",
        user=alice,
    )
    assert e.created_by == alice
    assert Path(e.out_dir) == (tmp_path / "out").resolve()
    out = tmp_path / "out"
    on_disk = [
        *manifest(out)["files"],
        {
            "name": "manifest.json",
            "rows": 0,
            "sha256": hashlib.sha256((out / "manifest.json").read_bytes()).hexdigest(),
        },
    ]
    # The record adds each file's size (checked before a download starts) and the manifest itself.
    assert e.files == [{**f, "size": (out / f["name"]).stat().st_size} for f in on_disk]
    assert e.params["campaigns"] == ["tea"] and e.params["max_synthetic"] == 0.3


@pytest.fixture
def served(approved, alice, tmp_path):
    e = export_create(
        campaign_slugs=["tea"],
        source_names=["tea"],
        max_synthetic=0.3,
        fmt="jsonl",
        out=tmp_path / "out",
        user=alice,
    )
    return e, tmp_path / "out"


def test_the_api_lists_the_export_and_serves_its_manifest(api, served, charlie, token):
    e, out = served
    status, listed = api.get("/api/v1/exports", token(charlie))
    assert status == 200
    assert [(x["id"], x["files"]) for x in listed] == [(e.pk, e.files)]
    status, body = api.get(f"/api/v1/exports/{e.pk}", token(charlie))
    assert status == 200
    assert body == manifest(out)


def test_the_api_streams_the_file_as_written(client, served, charlie, token):
    e, out = served
    response = client.get(
        f"/api/v1/exports/{e.pk}/files/data.jsonl", headers={"Authorization": f"Bearer {token(charlie)}"}
    )
    assert response.status_code == 200
    assert response.streaming
    assert b"".join(response.streaming_content) == (out / "data.jsonl").read_bytes()
    assert "data.jsonl" in response["Content-Disposition"]


def test_the_api_refuses_a_file_changed_on_disk_after_export(api, served, charlie, token):
    e, out = served
    with (out / "data.jsonl").open("a", encoding="utf-8") as fh:
        fh.write('{"id": "smuggled"}\n')
    status, body = api.get(f"/api/v1/exports/{e.pk}/files/data.jsonl", token(charlie))
    assert status == 404
    assert "changed on disk" in body["detail"]


def test_a_file_changed_in_place_is_never_served_whole(client, served, charlie, token, monkeypatch):
    """Same size, other bytes: found by hashing what is sent; the last block is held back,
    so the client gets a body shorter than its Content-Length, never the changed file."""
    from curation.exports import selectors

    monkeypatch.setattr(selectors, "BLOCK", 64)  # several blocks for a small file
    e, out = served
    data = bytearray((out / "data.jsonl").read_bytes())
    data[10] = ord("X") if data[10] != ord("X") else ord("Y")
    (out / "data.jsonl").write_bytes(bytes(data))
    response = client.get(
        f"/api/v1/exports/{e.pk}/files/data.jsonl", headers={"Authorization": f"Bearer {token(charlie)}"}
    )
    assert response.status_code == 200 and int(response["Content-Length"]) == len(data)
    sent = bytearray()
    with pytest.raises(selectors.FileChanged):
        for block in response.streaming_content:
            sent += block
    assert len(sent) < len(data)


def test_the_api_serves_only_the_files_the_export_lists(api, served, charlie, token):
    e, _ = served
    for name in ("../out/data.jsonl", "data.jsonl/../manifest.json", "nothing.txt"):
        status, body = api.get(f"/api/v1/exports/{e.pk}/files/{name}", token(charlie))
        assert status == 404
        assert "has no file" in body["detail"]


def test_the_manifest_is_a_file_like_any_other(client, served, charlie, token):
    e, out = served
    response = client.get(
        f"/api/v1/exports/{e.pk}/files/manifest.json", headers={"Authorization": f"Bearer {token(charlie)}"}
    )
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    assert body == (out / "manifest.json").read_bytes()
    assert json.loads(body) == e.manifest


def test_the_api_serves_a_ladder_step_file(client, approved, tmp_path, charlie, token):
    e = export_create(
        campaign_slugs=["tea"],
        source_names=["tea"],
        max_synthetic=0.3,
        fmt="jsonl",
        out=tmp_path / "out",
        ladder=[0.0, 0.1],
    )
    assert [f["name"] for f in e.files] == [
        "synthetic-0.00/data.jsonl",
        "synthetic-0.00/DATASHEET.md",
        "synthetic-0.10/data.jsonl",
        "synthetic-0.10/DATASHEET.md",
        "manifest.json",
        "synthetic-0.00/manifest.json",
        "synthetic-0.10/manifest.json",
    ]
    response = client.get(
        f"/api/v1/exports/{e.pk}/files/synthetic-0.10/data.jsonl",
        headers={"Authorization": f"Bearer {token(charlie)}"},
    )
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (tmp_path / "out/synthetic-0.10/data.jsonl").read_bytes()


def test_the_campaigns_own_cap_applies_without_flags(approved, tmp_path):
    from curation.campaigns.config import parse_config
    from curation.campaigns.services import campaign_create_or_update

    config = parse_config({**approved.config, "mixture": {"max_synthetic": 0.1, "max_depth": 1}})
    campaign_create_or_update(config=config)
    export(tmp_path / "out")
    m = manifest(tmp_path / "out")
    assert m["policy"]["max_synthetic"] == 0.1
    assert m["policy"]["from"]["max_synthetic"] == "the mixture of tea"
    assert m["synthetic_fraction"]["overall"] <= 0.1


def test_a_parquet_export_loads_in_datasets_and_reruns_byte_identical(approved, tmp_path):
    import datasets
    import pyarrow.parquet as pq

    export(tmp_path / "a", "--format", "parquet", "--seed", "3")
    export(tmp_path / "b", "--format", "parquet", "--seed", "3")
    a, b = tmp_path / "a" / "data.parquet", tmp_path / "b" / "data.parquet"
    assert a.read_bytes() == b.read_bytes()
    assert manifest(tmp_path / "a") == manifest(tmp_path / "b")
    m = manifest(tmp_path / "a")
    entry, sheet = m["files"]
    assert sheet["name"] == "DATASHEET.md"
    assert entry["name"] == "data.parquet" and entry["sha256"] == hashlib.sha256(a.read_bytes()).hexdigest()
    assert entry["rows"] == pq.ParquetFile(a).metadata.num_rows == m["counts"]["total"]

    # The JSONL export of the same inputs holds the same records.
    export(tmp_path / "j", "--seed", "3")
    lines = [json.loads(x) for x in (tmp_path / "j" / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    ds = datasets.load_dataset("parquet", data_files=str(a), split="train", cache_dir=str(tmp_path / "cache"))
    assert len(ds) == len(lines)
    for row, line in zip(ds, lines, strict=True):
        assert (row["id"], row["prompt"], row["response"]) == (line["id"], line["prompt"], line["response"])
        assert json.loads(row["provenance"]) == line["provenance"]
        assert json.loads(row["metadata"]) == line["metadata"]
    assert {json.loads(r)["origin"] for r in ds["provenance"]} >= {"human", "synthetic_edited"}


def test_an_hf_export_loads_from_disk_and_reruns_byte_identical(approved, tmp_path):
    import datasets

    export(tmp_path / "a", "--format", "hf", "--seed", "3")
    export(tmp_path / "b", "--format", "hf", "--seed", "3")
    m = manifest(tmp_path / "a")
    assert m == manifest(tmp_path / "b")
    names = [f["name"] for f in m["files"]]
    assert names == ["data-00000-of-00001.arrow", "dataset_info.json", "state.json", "DATASHEET.md"]
    for name in names:
        data = (tmp_path / "a" / name).read_bytes()
        assert data == (tmp_path / "b" / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == next(f["sha256"] for f in m["files"] if f["name"] == name)
    ds = datasets.load_from_disk(str(tmp_path / "a"))
    export(tmp_path / "j", "--seed", "3")
    lines = [json.loads(x) for x in (tmp_path / "j" / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(ds) == len(lines) == m["counts"]["total"]
    assert [(r["id"], r["response"]) for r in ds] == [(x["id"], x["response"]) for x in lines]
    assert json.loads(ds[0]["provenance"]) == lines[0]["provenance"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--balance-by", "colour"), "no exported row has a metadata field 'colour'"),
        (("--max-synthetic", "1.5"), "--max-synthetic must be at least 0 and below 1"),
        (
            ("--ladder", "0,0.5", "--max-synthetic", "0.3"),
            "--ladder steps must lie between 0 and the cap 0.3",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_leaves_no_files(approved, tmp_path, args, message):
    with pytest.raises(CommandError, match=message):
        export(tmp_path / "out", *args)
    assert not (tmp_path / "out").exists()
    assert list(tmp_path.iterdir()) == []  # nothing half-written beside it either
    assert not Export.objects.exists()


@pytest.mark.parametrize("where", ["reading synthetic rows", "writing"])
def test_a_failed_write_leaves_nothing_half_written(approved, tmp_path, monkeypatch, where):
    from curation.exports import passes, writers

    def broken(*args, **kwargs):
        raise OSError("disk full")

    if where == "writing":
        monkeypatch.setattr(writers.JsonlWriter, "write_encoded", broken)
    else:
        monkeypatch.setattr(passes, "synthetic_record", broken)
    with pytest.raises(OSError, match="disk full"):
        export(tmp_path / "out")
    assert list(tmp_path.iterdir()) == [] and not Export.objects.exists()


@pytest.mark.usefixtures("rows_deleted_after_planning")
def test_rows_deleted_between_planning_and_reading_fail_the_export_whole(approved, tmp_path):
    """The caps were computed from the planned rows: an export of other rows would not keep
    its promise, so it fails (a job retries it) and writes nothing."""
    from curation.exports.passes import SourcesChanged

    with pytest.raises(SourcesChanged, match="the sources changed while exporting"):
        export(tmp_path / "out")
    assert list(tmp_path.iterdir()) == [] and not Export.objects.exists()


def test_split_heldout_exports_the_evaluation_set_alone(approved, tmp_path):
    out = tmp_path / "eval"
    call_command("export_dataset", "--source", "tea-heldout", "--split", "heldout", "--out", str(out))
    records = [json.loads(x) for x in (out / "data.jsonl").read_text(encoding="utf-8").splitlines()]
    heldout = [json.loads(line) for line in (DATA / "tea_heldout.jsonl").read_text().splitlines()]
    assert sorted(r["response"] for r in records) == sorted(h["response"] for h in heldout)
    assert {r["provenance"]["origin"] for r in records} == {"human"}
    m = manifest(out)
    assert (m["split"], m["counts"]["synthetic"], m["policy"]["max_synthetic"]) == ("heldout", 0, 0.0)
    for bad, message in [
        (("--source", "tea", "--split", "heldout"), "source 'tea' is not held-out"),
        (("--source", "tea-heldout", "--campaign", "tea", "--split", "heldout"), "no --campaign"),
    ]:
        with pytest.raises(CommandError, match=message):
            call_command("export_dataset", *bad, "--out", str(tmp_path / "bad"))
    assert manifest(tmp_path / "eval") == m and not (tmp_path / "bad").exists()


def test_the_datasheet_tells_a_reader_what_the_manifest_says(approved, tmp_path):
    export(tmp_path / "a", "--max-synthetic", "0.3", "--balance-by", "topic", "--seed", "3")
    export(tmp_path / "b", "--max-synthetic", "0.3", "--balance-by", "topic", "--seed", "3")
    sheet = (tmp_path / "a" / "DATASHEET.md").read_text(encoding="utf-8")
    assert sheet == (tmp_path / "b" / "DATASHEET.md").read_text(encoding="utf-8")
    m = manifest(tmp_path / "a")
    for heading in ("## Sources", "## Policy", "## Counts", "## Review", "## Diversity", "## Files"):
        assert heading in sheet
    assert "capped at 30.0% overall and per topic" in sheet and "Why the cap:" in sheet
    assert f"| data.jsonl | {m['counts']['total']} | {m['files'][0]['sha256']} |" in sheet
    assert f"| total | {m['counts']['total']} |" in sheet
    assert m["counts_by_depth"]["0"] == m["counts"]["human"]
    synthetic = m["counts"]["synthetic"] + m["counts"]["synthetic_edited"]
    assert sum(m["counts_by_generator"].values()) == synthetic
    assert m["reviewed"]["synthetic_records_seen_by_an_expert"] == synthetic
    assert f"{synthetic} of {synthetic} synthetic records were seen by an expert" in sheet
    assert m["reviewed"]["agreement"]["tea"]["items"] == 0
