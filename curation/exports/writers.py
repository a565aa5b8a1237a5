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


def _json(value: Any) -> str:
    # sort_keys: JSON fields come back from PostgreSQL (jsonb) and SQLite in different
    # orders; sorted keys keep reruns byte-identical on every database.
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Writer(Protocol):
    name: str

    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> dict[str, Any]:
        """{name, rows, sha256} of the file written."""
        ...


class JsonlWriter:
    name = "data.jsonl"

    def __init__(self, folder: Path) -> None:
        self._fh = (folder / self.name).open("w", encoding="utf-8", newline="\n")
        self._digest = hashlib.sha256()
        self._rows = 0

    def write(self, record: dict[str, Any]) -> None:
        line = _json(record) + "\n"
        self._fh.write(line)
        self._digest.update(line.encode("utf-8"))
        self._rows += 1

    def close(self) -> dict[str, Any]:
        self._fh.close()
        return {"name": self.name, "rows": self._rows, "sha256": self._digest.hexdigest()}


class ParquetWriter:
    name = "data.parquet"

    def __init__(self, folder: Path) -> None:
        self._path = folder / self.name
        self._writer = pq.ParquetWriter(self._path, SCHEMA, compression="zstd")
        self._chunk: list[dict[str, Any]] = []
        self._rows = 0

    def write(self, record: dict[str, Any]) -> None:
        self._chunk.append(
            {
                "id": record["id"],
                "prompt": record.get("prompt"),
                "response": record.get("response"),
                "messages": [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
                if record.get("messages") is not None
                else None,
                "metadata": _json(record.get("metadata") or {}),
                "provenance": _json(record.get("provenance") or {}),
            }
        )
        self._rows += 1
        if len(self._chunk) >= CHUNK:
            self._flush()

    def _flush(self) -> None:
        if self._chunk:
            self._writer.write_table(pa.Table.from_pylist(self._chunk, schema=SCHEMA))
            self._chunk = []

    def close(self) -> dict[str, Any]:
        self._flush()
        self._writer.close()
        digest = hashlib.sha256()
        with self._path.open("rb") as fh:  # once, when written: downloads use the stored hash
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        return {"name": self.name, "rows": self._rows, "sha256": digest.hexdigest()}


WRITERS: dict[str, type[JsonlWriter] | type[ParquetWriter]] = {"jsonl": JsonlWriter, "parquet": ParquetWriter}
