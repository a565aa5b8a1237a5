"""The export writers on their own: chat and instruction rows in one file, in every format,
streamed a chunk at a time, loading back as written."""

from __future__ import annotations

import json

import datasets
import pyarrow.parquet as pq
import pytest

from curation.exports import writers

CHAT = [{"role": "user", "content": "Hi?"}, {"role": "assistant", "content": "Hello."}]
ROWS = [
    {
        "id": "h-1",
        "prompt": "What is apt?",
        "response": "A package tool.",
        "metadata": {"topic": "apt"},
        "provenance": {"origin": "human"},
    },
    {
        "id": "c-1",
        "messages": CHAT,
        "metadata": {},
        "provenance": {"origin": "synthetic", "critics": {"length": 1.0}},
    },
]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "hf"])
def test_every_format_reads_back_what_was_written_across_chunks(fmt, tmp_path, monkeypatch):
    monkeypatch.setattr(writers, "CHUNK", 3)  # several row groups / batches
    rows = [{**r, "id": f"{r['id']}-{i}"} for i in range(5) for r in ROWS]
    w = writers.WRITERS[fmt](tmp_path)
    for r in rows:
        w.write(r)
    files = w.close()
    assert files[0]["rows"] == len(rows)
    if fmt == "jsonl":
        back = [json.loads(x) for x in (tmp_path / "data.jsonl").read_text(encoding="utf-8").splitlines()]
        assert back == rows
        return
    if fmt == "parquet":
        table = pq.read_table(tmp_path / "data.parquet")
        assert pq.ParquetFile(tmp_path / "data.parquet").num_row_groups == 4
        got = table.to_pylist()
    else:
        got = list(datasets.load_from_disk(str(tmp_path)))
    assert [g["id"] for g in got] == [r["id"] for r in rows]
    for g, r in zip(got, rows, strict=True):
        assert (g["prompt"], g["response"]) == (r.get("prompt"), r.get("response"))
        assert g["messages"] == r.get("messages")
        assert json.loads(g["provenance"]) == r["provenance"] and json.loads(g["metadata"]) == r["metadata"]


def test_the_content_hash_is_that_of_the_standard_librarys_canonical_json():
    import hashlib
    import json

    from workers.critics.text import content_sha256

    text = "".join(chr(i) for i in range(0xD800)) + "😀 \u2028 \x7f"
    for sample in (
        {"prompt": text, "response": 'a "quoted" \\ line\n'},
        {"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]},
        {"prompt": "big", "response": "int", "n": 2**70},  # past orjson's 64 bits: the fallback
    ):
        canonical = json.dumps(sample, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        assert content_sha256(sample) == hashlib.sha256(canonical.encode()).hexdigest()


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_value_orjson_cannot_write_is_written_by_the_standard_library(fmt, tmp_path):
    """A source's metadata may hold an integer past 64 bits: the export writes it exactly."""
    record = {"id": "big", "prompt": "p", "response": "r", "metadata": {"n": 2**70}, "provenance": {}}
    writer = writers.WRITERS[fmt](tmp_path)
    writer.write(record)
    writer.close()
    if fmt == "jsonl":
        assert json.loads((tmp_path / "data.jsonl").read_text())["metadata"] == {"n": 2**70}
    else:
        assert json.loads(pq.read_table(tmp_path / "data.parquet")["metadata"][0].as_py()) == {"n": 2**70}


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "hf"])
def test_encoded_records_give_back_their_sample(fmt):
    """An export spills records encoded and reads the diversity sample's text back from them."""
    big = {**ROWS[0], "metadata": {"n": 2**70}}
    codec = writers.WRITERS[fmt]
    assert codec.sample(codec.encode(big)) == {"prompt": "What is apt?", "response": "A package tool."}
    assert codec.sample(codec.encode(ROWS[1])) == {"messages": CHAT}
