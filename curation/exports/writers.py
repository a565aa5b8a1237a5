"""Streaming writers of exported records: one record in, nothing held but the current
chunk, and the same records give the same bytes (reruns are byte-identical).

JSONL keeps each record as it is. Parquet has one schema for every row: the sample as
columns a training job reads directly (`prompt`/`response`, or `messages` for chat;
the other left null), and `metadata` and `provenance`, whose fields vary by source and
critic, as JSON text beside them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Protocol

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

CHUNK = 1000  # rows per Parquet row group: memory stays flat in the number of rows

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("prompt", pa.string()),
        ("response", pa.string()),
        ("messages", pa.list_(MESSAGE)),
        ("metadata", pa.string()),
        ("provenance", pa.string()),
    ]
)


def _json_bytes(value: Any) -> bytes:
    """Compact JSON, UTF-8, keys sorted: JSON fields come back from PostgreSQL (jsonb) and
    SQLite in different orders; sorted keys keep reruns byte-identical on every database.
    orjson refuses what it cannot write exactly (an integer past 64 bits in a source's
    metadata); the standard library writes those in the same compact form."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _sample(prompt: str | None, response: str | None, messages: list | None) -> dict[str, Any]:
    return {"messages": messages} if messages is not None else {"prompt": prompt, "response": response}


def _json(value: Any) -> str:
    return _json_bytes(value).decode("utf-8")


class Writer(Protocol):
    """`write(record)`, or in two halves: `encode(record)` to bytes (where the record is
    built) and `write_encoded(data)` later (where it is written in order), so an export can
    sort records on disk in between without building them twice. `sample(data)` gives
    back the sample (prompt/response or messages) of encoded bytes."""

    name: str

    def write(self, record: dict[str, Any]) -> None: ...

    @staticmethod
    def encode(record: dict[str, Any]) -> bytes: ...

    @staticmethod
    def sample(data: bytes) -> dict[str, Any]: ...

    def write_encoded(self, data: bytes) -> None: ...

    def close(self) -> list[dict[str, Any]]:
        """{name, rows, sha256} of each file written."""
        ...


class JsonlWriter:
    name = "data.jsonl"

    def __init__(self, folder: Path) -> None:
        self._fh = (folder / self.name).open("wb")
        self._digest = hashlib.sha256()
        self._rows = 0
        self._lines: list[bytes] = []

    @staticmethod
    def encode(record: dict[str, Any]) -> bytes:
        return _json_bytes(record) + b"\n"  # the line itself

    @staticmethod
    def sample(data: bytes) -> dict[str, Any]:
        record = orjson.loads(data)  # the text only: a number past 64 bits would not matter
        return _sample(record.get("prompt"), record.get("response"), record.get("messages"))

    def write(self, record: dict[str, Any]) -> None:
        self.write_encoded(self.encode(record))

    def write_encoded(self, data: bytes) -> None:
        self._lines.append(data)
        self._rows += 1
        if len(self._lines) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        block = b"".join(self._lines)
        self._fh.write(block)
        self._digest.update(block)
        self._lines = []

    def close(self) -> list[dict[str, Any]]:
        self._flush()
        self._fh.close()
        return [{"name": self.name, "rows": self._rows, "sha256": self._digest.hexdigest()}]


class _Columnar:
    """Rows gathered a chunk at a time, column by column, into Arrow batches of SCHEMA."""

    _schema = SCHEMA

    def __init__(self) -> None:
        self._rows = 0
        self._reset()

    def _reset(self) -> None:
        self._columns: dict[str, list] = {name: [] for name in SCHEMA.names}
        self._cells = [self._columns[name] for name in SCHEMA.names]

    def _write_table(self, table: pa.Table) -> None:
        raise NotImplementedError

    @staticmethod
    def encode(record: dict[str, Any]) -> bytes:
        """The row's cells in SCHEMA's order, as a JSON array: metadata and provenance are
        JSON text already (exact, whatever their numbers), the rest strings and messages."""
        messages = record.get("messages")
        return orjson.dumps(
            [
                record["id"],
                record.get("prompt"),
                record.get("response"),
                None
                if messages is None
                else [{"role": m["role"], "content": m["content"]} for m in messages],
                _json(record.get("metadata") or {}),
                _json(record.get("provenance") or {}),
            ]
        )

    @staticmethod
    def sample(data: bytes) -> dict[str, Any]:
        _, prompt, response, messages, _, _ = orjson.loads(data)
        return _sample(prompt, response, messages)

    def write(self, record: dict[str, Any]) -> None:
        self.write_encoded(self.encode(record))

    def write_encoded(self, data: bytes) -> None:
        for cells, value in zip(self._cells, orjson.loads(data), strict=True):
            cells.append(value)
        self._rows += 1
        if len(self._columns["id"]) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._columns["id"]:
            arrays = [pa.array(self._columns[f.name], type=f.type) for f in SCHEMA]
            self._write_table(pa.Table.from_arrays(arrays, schema=self._schema))
            self._reset()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:  # once, when written: downloads use the stored hash
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ParquetWriter(_Columnar):
    name = "data.parquet"

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self._path = folder / self.name
        self._writer = pq.ParquetWriter(self._path, SCHEMA, compression="zstd")

    def _write_table(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> list[dict[str, Any]]:
        self._flush()
        self._writer.close()
        return [{"name": self.name, "rows": self._rows, "sha256": sha256_of(self._path)}]


class HfWriter(_Columnar):
    """A Hugging Face `save_to_disk` folder, written the way `datasets` writes one (an Arrow
    stream shard, dataset_info.json, state.json) but streamed and byte-identical: the
    fingerprint is the shard's hash, not a random one. `datasets.load_from_disk(folder)`."""

    name = "data-00000-of-00001.arrow"

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self._folder = folder
        self._path = folder / self.name
        self._schema = SCHEMA.with_metadata({"huggingface": json.dumps({"info": {"features": _features()}})})
        self._writer = pa.ipc.new_stream(str(self._path), self._schema)

    def _write_table(self, table: pa.Table) -> None:
        self._writer.write_table(table)

    def close(self) -> list[dict[str, Any]]:
        self._flush()
        self._writer.close()
        shard = sha256_of(self._path)
        state = {
            "_data_files": [{"filename": self.name}],
            "_fingerprint": shard[:16],
            "_format_columns": None,
            "_format_kwargs": {},
            "_format_type": None,
            "_output_all_columns": False,
            "_split": None,
        }
        info = {"citation": "", "description": "", "features": _features(), "homepage": "", "license": ""}
        files = [{"name": self.name, "rows": self._rows, "sha256": shard}]
        for name, body in (("dataset_info.json", info), ("state.json", state)):
            path = self._folder / name
            path.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            files.append({"name": name, "rows": 0, "sha256": sha256_of(path)})
        return files


def _features() -> dict[str, Any]:
    """SCHEMA in `datasets`' own words (what its dataset_info.json and Arrow metadata hold)."""
    from datasets import Features  # imported here: a second or two, paid by hf exports only

    return Features.from_arrow_schema(SCHEMA).to_dict()


WRITERS: dict[str, type[Writer]] = {"jsonl": JsonlWriter, "parquet": ParquetWriter, "hf": HfWriter}
