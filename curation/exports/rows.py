"""Rows as plain values, read the fast way: an export reads a million of them.

Whole tables in key-ordered pages (`scan`), and per-candidate extras by id, the ids sent
as one parameter (a PostgreSQL array, a JSON array on SQLite) rather than a thousand
placeholders the ORM would build and psycopg parse again; JSON columns decoded by orjson,
and no model instances. The values are those the ORM
would give (timestamps timezone-aware, JSON decoded), so records do not depend on how
they were read. Table and column names come from the models' own metadata, quoted;
nothing a user typed reaches the SQL text."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, connections, models


def scan(
    model: type[models.Model],
    names: tuple[str, ...],
    where: str,
    params: Sequence[Any],
    *,
    size: int = 2000,
) -> Iterator[list[dict[str, Any]]]:
    """Every row of `model` matching `where` (SQL on its own columns, `params` its
    parameters), `size` at a time in primary-key order, as {name: value} dicts (`names`:
    field names, a foreign key by its `_id` attribute, "pk" for the primary key). Pages follow
    the key (`pk > last`), not a server-side cursor: no transaction is held open for the
    length of an export, and a table filled in order is read about as it is stored."""
    meta = model._meta
    fields = [meta.pk if n == "pk" else _field(meta, n) for n in names]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    decode = [_decoder(f) for f in fields]
    pk = connection.ops.quote_name(meta.pk.column)
    at = names.index("pk")
    sql = f"SELECT {columns} FROM {table(model)} WHERE ({where}) AND {pk} > %s ORDER BY {pk} LIMIT %s"  # noqa: S608
    last = -(2**63)
    while True:
        with connection.cursor() as cursor:
            _fast_timestamps(cursor)
            cursor.execute(sql, [*params, last, size])
            page = cursor.fetchall()
        if not page:
            return
        last = page[-1][at]
        yield [
            {n: d(v) if d and v is not None else v for n, d, v in zip(names, decode, values, strict=True)}
            for values in page
        ]
        if len(page) < size:
            return


def prefetched(pages: Callable[[], Iterator[Any]], *, depth: int = 2) -> Iterator[Any]:
    """`pages()`'s items, made ahead in a thread on a connection of its own: PostgreSQL
    answers the next queries while the caller builds records from the last ones (the
    server's time is the larger part of reading a row). Inside a transaction (a test's,
    or a caller's) another connection would not see its rows, so there, and on SQLite
    (in process, nothing to overlap), the items are made in line."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield from pages()
        return
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(entry: tuple) -> bool:
        """Hand on an entry unless the caller has stopped listening."""
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in pages():
                if not put((item, None)):
                    return
            put((end, None))
        except BaseException as error:  # raised again in the caller's thread
            put((end, error))
        finally:
            connections.close_all()  # this thread's own

    thread = threading.Thread(target=run, name="export-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item, error = ready.get()
            if error is not None:
                raise error
            if item is end:
                return
            yield item
    finally:
        stop.set()
        thread.join()


def _fast_timestamps(cursor) -> None:
    """psycopg's own (C) timestamptz loader on this cursor instead of Django's (Python,
    4 microseconds a row): the session's time zone is UTC, so both give the same aware
    datetimes."""
    if connection.vendor != "postgresql" or connection.timezone_name != "UTC":
        return
    import psycopg

    info = psycopg.adapters.types["timestamptz"]
    cursor.cursor.adapters.register_loader(
        info.oid, psycopg.adapters.get_loader(info.oid, psycopg.pq.Format.TEXT)
    )


def column(model: type[models.Model], name: str) -> str:
    """A field's column, quoted, for `where` (by field name; a foreign key by its `_id`)."""
    return connection.ops.quote_name(_field(model._meta, name).column)


def in_ids(expr: str) -> str:
    """SQL for `expr` being one of the ids given as the one parameter `ids_param(ids)`."""
    if connection.vendor == "postgresql":
        return f"{expr} = ANY(%s)"
    return f"{expr} IN (SELECT value FROM json_each(%s))"  # noqa: S608


def ids_param(ids: Sequence[int]) -> Any:
    return list(ids) if connection.vendor == "postgresql" else orjson.dumps(list(ids)).decode()


def critic_scores(ids: list[int]) -> dict[int, dict[str, float | None]]:
    """{candidate: {critic: score}}; of several versions of one critic, the latest row."""
    from curation.scoring.models import CriticScore

    out: dict[int, dict[str, float | None]] = {pk: {} for pk in ids}
    if connection.vendor == "postgresql":
        # One JSON object a candidate, not a row a score: a tenth of the rows to fetch. Its
        # floats are PostgreSQL's shortest exact text, so they read back as the same floats;
        # a critic's later row comes later, and orjson keeps the last of a repeated key.
        select = (
            f"SELECT candidate_id, json_object_agg(critic, score ORDER BY id)::text "  # noqa: S608
            f"FROM {table(CriticScore)} WHERE"
        )
        for cid, scores in _where_in(select, "candidate_id", ids, "GROUP BY candidate_id"):
            out[cid] = dict(orjson.loads(scores))
        return out
    select = f"SELECT candidate_id, critic, score FROM {table(CriticScore)} WHERE"  # noqa: S608
    for cid, critic, score in _where_in(select, "candidate_id", ids, "ORDER BY candidate_id, critic, id"):
        out[cid][critic] = score
    return out


def reviewer_names(ids: list[int], *, skip: str) -> dict[int, list[str]]:
    """{candidate: the usernames of the experts who decided it (not who skipped), sorted}."""
    from curation.accounts.models import User
    from curation.review.models import Review

    out: dict[int, list[str]] = {pk: [] for pk in ids}
    select = (
        f"SELECT r.candidate_id, u.username FROM {table(Review)} r "  # noqa: S608
        f"JOIN {table(User)} u ON u.id = r.reviewer_id WHERE r.decision <> %s AND"
    )
    for cid, name in _where_in(select, "r.candidate_id", ids, "ORDER BY u.username", before=(skip,)):
        out[cid].append(name)
    return out


def adjudicators(ids: list[int]) -> dict[int, str]:
    """{candidate: the username of the admin who adjudicated it}, for those adjudicated."""
    from curation.accounts.models import User
    from curation.review.models import Adjudication

    select = (
        f"SELECT a.candidate_id, u.username FROM {table(Adjudication)} a "  # noqa: S608
        f"JOIN {table(User)} u ON u.id = a.by_id WHERE"
    )
    return dict(_where_in(select, "a.candidate_id", ids))


def _where_in(
    select: str, column: str, ids: Sequence[int], rest: str = "", before: tuple = ()
) -> list[tuple]:
    """`select` `column IN ids` `rest`; `before`: parameters of `select` itself."""
    with connection.cursor() as cursor:
        cursor.execute(f"{select} {in_ids(column)} {rest}", [*before, ids_param(ids)])
        return cursor.fetchall()


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _field(meta, name: str) -> models.Field:
    try:
        return meta.get_field(name)
    except FieldDoesNotExist:
        return meta.get_field(name.removesuffix("_id"))  # a foreign key by its column


def _decoder(field: models.Field):
    if isinstance(field, models.JSONField):
        # PostgreSQL hands jsonb over as text here too (Django registers it so).
        return lambda v: orjson.loads(v) if isinstance(v, str | bytes) else v
    if isinstance(field, models.DateTimeField) and connection.vendor == "sqlite":
        return _sqlite_datetime
    return None


def _sqlite_datetime(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
