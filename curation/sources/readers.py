"""Reading data files (CONTRACT "Data files"): JSONL, CSV or Parquet rows in the
instruction schema (`prompt`, `response`) or the chat schema (`messages`).

Rows stream one at a time; the first bad row raises InvalidInput naming the file,
the row and the field, so an import can roll back and say exactly what to fix."""

from __future__ import annotations

import csv
import datetime
import decimal
import io
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.core.errors import InvalidInput

ROLES = {"system", "user", "assistant"}
SAMPLE_FIELDS = {"prompt", "response", "messages", "id"}
ID_LENGTH = 200  # Example.external_id and Candidate.external_id


@dataclass
class Sample:
    row: int  # 1-based line (JSONL, CSV data rows count from the header's next line) or row index
    kind: str  # "instruction" or "chat"
    prompt: str
    response: str
    messages: list[dict[str, str]] | None
    external_id: str
    extra: dict[str, Any] = field(default_factory=dict)  # every other column


def read_samples(path: str | Path) -> Iterator[Sample]:
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(f"{path}: no such file")
    suffix = "".join(path.suffixes[-1:]).lower()
    readers = {".jsonl": _jsonl_rows, ".json": _jsonl_rows, ".csv": _csv_rows, ".parquet": _parquet_rows}
    if suffix not in readers:
        raise InvalidInput(f"{path}: unknown file type {suffix or '(none)'}; use .jsonl, .csv or .parquet")
    unit = "row" if suffix == ".parquet" else "line"
    for row, data in readers[suffix](path):
        yield to_sample(data, where=f"{path.name}: {unit} {row}", row=row)


def to_sample(data: Any, *, where: str, row: int) -> Sample:
    if not isinstance(data, dict):
        raise InvalidInput(f"{where}: expected an object with prompt and response, or messages")
    extra = {k: _metadata(v, where, k) for k, v in data.items() if k not in SAMPLE_FIELDS}
    raw_id = data.get("id")
    external_id = "" if raw_id is None else _text(str(raw_id), where, "id")
    if len(external_id) > ID_LENGTH:
        raise InvalidInput(f"{where}: field 'id' is longer than {ID_LENGTH} characters")
    if data.get("messages") not in (None, ""):
        messages = _messages(data["messages"], where)
        user = "\n\n".join(m["content"] for m in messages if m["role"] == "user")
        assistant = "\n\n".join(m["content"] for m in messages if m["role"] == "assistant")
        return Sample(row, "chat", user, assistant, messages, external_id, extra)
    for name in ("prompt", "response"):
        value = data.get(name)
        if value is None:
            raise InvalidInput(f"{where}: missing field {name!r} (or give 'messages')")
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"{where}: field {name!r} must be non-empty text")
        _text(value, where, name)
    return Sample(row, "instruction", data["prompt"], data["response"], None, external_id, extra)


def _text(value: str, where: str, name: str) -> str:
    # PostgreSQL text cannot hold NUL: refuse it here, with the row, not in the database.
    if "\x00" in value:
        raise InvalidInput(f"{where}: field {name!r} contains a NUL character (\\u0000)")
    return value


def _metadata(value: Any, where: str, name: str) -> Any:
    """Metadata is stored as JSON: Parquet's dates become ISO text and decimals exact text;
    what JSON cannot hold (NaN, bytes) is refused here instead of failing in the database."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, str):
        return _text(value, where, name)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{where}: field {name!r} is {value}, which JSON cannot store")
        return value
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [_metadata(v, where, name) for v in value]
    if isinstance(value, dict):
        return {str(k): _metadata(v, where, f"{name}.{k}") for k, v in value.items()}
    raise InvalidInput(
        f"{where}: field {name!r} holds {type(value).__name__} data, which metadata cannot store"
    )


def _messages(value: Any, where: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise InvalidInput(f"{where}: field 'messages' is not a JSON list") from None
    if not isinstance(value, list) or not value:
        raise InvalidInput(f"{where}: field 'messages' must be a non-empty list of {{role, content}}")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise InvalidInput(
                f"{where}: messages[{i}] must be {{role: system|user|assistant, content: text}}"
            )
        out.append({"role": m["role"], "content": _text(m["content"], where, f"messages[{i}].content")})
    # An empty turn is no turn: the sample's prompt or response would be empty text.
    roles = {m["role"] for m in out if m["content"].strip()}
    if not {"user", "assistant"} <= roles:
        raise InvalidInput(f"{where}: field 'messages' needs a user turn and an assistant turn")
    return out


def _decode(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInput(
            f"{where}: not UTF-8 text (byte 0x{raw[e.start]:02x} at column {e.start + 1})"
        ) from None


def _jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            where = f"{path.name}: line {number}"
            text = _decode(raw, where)
            if number == 1:
                text = text.removeprefix("\ufeff")
            if not text.strip():
                continue
            try:
                yield number, json.loads(text.rstrip("\r\n"))
            except json.JSONDecodeError as e:
                raise InvalidInput(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from None


def _csv_rows(path: Path) -> Iterator[tuple[int, Any]]:
    raw = path.read_bytes()
    text = _decode_whole(raw, path.name)
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    if not reader.fieldnames:
        raise InvalidInput(f"{path.name}: empty CSV file (no header row)")
    for record in reader:
        line = reader.line_num
        if None in record:
            raise InvalidInput(f"{path.name}: line {line}: more fields than the header has")
        yield line, {k: v for k, v in record.items() if v is not None}


def _decode_whole(raw: bytes, name: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InvalidInput(f"{name}: line {line}: not UTF-8 text (byte 0x{raw[e.start]:02x})") from None


def _parquet_rows(path: Path) -> Iterator[tuple[int, Any]]:
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises ArrowInvalid, OSError and others for a bad file
        raise InvalidInput(f"{path.name}: not a readable Parquet file ({e})") from None
    number = 0
    for batch in table.iter_batches(batch_size=1024):
        for record in batch.to_pylist():
            number += 1
            yield number, record
